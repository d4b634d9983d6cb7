/* SPDX-License-Identifier: GPL-3.0-or-later */
/* checkpoint.h - save and restore a training run: param values, optimiser
 * state, rng states and a few named user values (epoch, batch, seed...).
 * Saving is atomic (a temporary file in the same directory, fsync, rename),
 * so a crash leaves either the old checkpoint or the new one. Loading checks
 * everything before it changes anything, so a failed load leaves the live
 * objects as they were. Uses core (tensor, rng, error), nn/optim and zlib's
 * crc32.
 *
 * File format, version 1, every integer and float little-endian:
 *   "NLCKPT\0\0" | u32 version | u32 record count | records | "NLCKEND\0" |
 *   u32 CRC32 of every byte before it
 * where a record is
 *   u32 type | u32 name length | name bytes | u64 payload length | payload |
 *   u32 CRC32 of the record's bytes before it
 * and the payload by type:
 *   1 param      u32 ndim | i64 shape[ndim] | f32 values, row-major
 *   2 optimiser  u32 kind length | kind | i64 steps | f64 lr, momentum,
 *                dampening, weight_decay, beta1, beta2, eps | u32 nesterov |
 *                u32 nparams | u32 nstate
 *   3 opt state  as a param; named "<param>:<state>" ("fc.w:exp_avg")
 *   4 rng        u32 index | u64 s[4] | f64 spare | u32 has_spare
 *   5 int        i64
 *   6 real       f64
 *   7 string     u32 length | bytes
 * Records are numbered from 1 in file order in error messages. */
#ifndef NL_CHECKPOINT_H
#define NL_CHECKPOINT_H

#include <stdint.h>

#include "core/rng.h"
#include "nn/optim.h"
#include "nn/param.h"

enum { NL_CKPT_VERSION = 1, NL_CKPT_MAXEXTRA = 32, NL_CKPT_NAMEMAX = 64, NL_CKPT_STRMAX = 256 };

typedef enum nl_ckpt_type { NL_CKPT_INT = 5, NL_CKPT_REAL = 6, NL_CKPT_STR = 7 } nl_ckpt_type;

/* A named user value. */
typedef struct nl_ckpt_value {
    char name[NL_CKPT_NAMEMAX];
    nl_ckpt_type type;
    int64_t i;
    double r;
    char s[NL_CKPT_STRMAX];
} nl_ckpt_value;

/* A small set of named values stored beside the weights. A plain value:
 * zero it (or memset) to empty it; it owns no memory. */
typedef struct nl_ckpt_extra {
    int n;
    nl_ckpt_value v[NL_CKPT_MAXEXTRA];
} nl_ckpt_extra;

/* Set (add or replace) a value. NL_EINVAL for an empty name or one of
 * NL_CKPT_NAMEMAX bytes or more, or a string of NL_CKPT_STRMAX bytes or
 * more; NL_ERANGE when NL_CKPT_MAXEXTRA values are already set. */
int nl_ckpt_extra_set_int(nl_ckpt_extra *e, const char *name, int64_t v);
int nl_ckpt_extra_set_real(nl_ckpt_extra *e, const char *name, double v);
int nl_ckpt_extra_set_str(nl_ckpt_extra *e, const char *name, const char *v);
/* Get a value: NL_ENOTFOUND "no value 'epoch'" when absent, NL_EINVAL
 * "value 'epoch' is a string, not an integer" for another type. An int
 * reads as a real too. The string stays owned by e. */
int nl_ckpt_extra_get_int(const nl_ckpt_extra *e, const char *name, int64_t *v);
int nl_ckpt_extra_get_real(const nl_ckpt_extra *e, const char *name, double *v);
int nl_ckpt_extra_get_str(const nl_ckpt_extra *e, const char *name, const char **v);

/* Write a checkpoint of params[0..nparams) (only name and w are read: BN
 * running statistics can come along as params without gradient), of opt
 * (NULL: none) with the state of every param it updates, of rngs[0..nrng)
 * and of extra (NULL: none) to `path`, atomically: the data goes to
 * "<path>.tmp.<pid>", is flushed and fsync'ed, then renamed over path. On any
 * failure the temporary file is removed and an existing file at path is left
 * as it was. NL_EINVAL for duplicate param names or a param without value,
 * NL_EIO "checkpoint PATH: cannot write: <reason>" when the system refuses. */
int nl_ckpt_save(const char *path, const nl_param *params, int nparams, const nl_optim *opt,
                 const nl_rng *rngs, int nrng, const nl_ckpt_extra *extra);

/* Restore a checkpoint into live objects: every param of params[0..nparams)
 * by name, opt's state and step count and learning rate (opt NULL: ignored),
 * rngs[0..nrng) and extra_out (NULL: ignored; otherwise replaced by the
 * file's values). The file must hold exactly these params with these shapes,
 * state for opt's kind and params, and exactly nrng rng states. Nothing is
 * changed unless everything checks. Errors, all prefixed "checkpoint PATH: ":
 * NL_EIO "cannot open: <reason>"; NL_EFORMAT "truncated", "not a naslab
 * checkpoint", "version 2 is not supported (this naslab reads version 1)",
 * "corrupt record 3 (CRC mismatch)", "corrupt record 3 (bad length)",
 * "corrupt file (CRC mismatch)", "corrupt record 3 (...)" for malformed
 * payloads; NL_ENOTFOUND "missing param 'fc.b'", "param 'x' is not in the
 * network", "no optimiser state", "missing optimiser state 'fc.w:exp_avg'";
 * NL_ESHAPE "param 'conv1.w' has shape [16,3,3,3], network expects
 * [32,3,3,3]" (also for optimiser state); NL_EINVAL "optimiser is sgd,
 * checkpoint holds adam", "holds 1 rng states, caller expects 2",
 * "duplicate record 'x'". */
int nl_ckpt_load(const char *path, nl_param *params, int nparams, nl_optim *opt, nl_rng *rngs,
                 int nrng, nl_ckpt_extra *extra_out);
/* Only the named values of a checkpoint, after checking the whole file as
 * nl_ckpt_load does: what a model stores about its own shape, read before the
 * model that will load the weights is built. Errors as nl_ckpt_load's. */
int nl_ckpt_read_extra(const char *path, nl_ckpt_extra *extra_out);

#endif
