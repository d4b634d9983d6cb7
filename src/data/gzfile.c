/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gzfile.c - open a plain or gzip input file with exact errors (see gzfile.h). */
#include "data/gzfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

int nl_gzfile_open(const char *path, unsigned bufsize, gzFile *out)
{
    *out = NULL;
    /* open() ourselves so errno is exact */
    int fd = open(path, O_RDONLY);
    if (fd < 0) return nl_err(NL_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return nl_err(NL_EIO, "cannot read '%s': %s", path, strerror(EISDIR));
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return nl_err(NL_ENOMEM, "cannot open '%s': out of memory", path);
    }
    gzbuffer(gz, bufsize);
    *out = gz;
    return 0;
}
