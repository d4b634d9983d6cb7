-- SPDX-License-Identifier: GPL-3.0-or-later
-- nl.bench: loading tabular benchmarks from the fixtures in tests/data (exact
-- messages for malformed files and misuse), queries, best, columns, the cost
-- model, and the real NAS-Bench-201 tables when NASLAB_SHARED has them.
local t = require "tap"

local top = os.getenv("top_srcdir")
if not top then
  local src = debug and debug.getinfo(1, "S").source or "@./tests/lua/x.lua"
  top = src:match("^@(.*)/tests/lua/[^/]*$") or "."
end
local dir = top .. "/tests/data/"

local A1 = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
local A2 = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
local A3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
local A4 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
local A5 = "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|"
local sp = nl.space("nb201")

-- A name (no '/' or '.') is looked up in the data directory.
local none, why = nl.bench.load("no-such-bench")
t.is(none, nil, "an unknown name returns nil")
t.ok(why:match("^cannot open '.*/no%-such%-bench%.csv': No such file or directory$"), "naming the file it looked for: " .. why)

local missing, mmsg = nl.bench.load(dir .. "nope.csv")
t.is(missing, nil, "missing file: nil")
t.is(mmsg, "cannot open '" .. dir .. "nope.csv': No such file or directory", "missing file: message")

-- The good fixture.
local b = assert(nl.bench.load(dir .. "good.csv"))
t.is(#b, 5, "#b")
t.is(b:size(), 5, "b:size()")
t.is(table.concat(b:metrics(), ","), "acc,loss,params_m", "metrics in file order")
t.is(b:path(), dir .. "good.csv", "path")
t.is(b:space():name(), "nb201", "space inferred")
t.is(tostring(b), "naslab.Bench: " .. dir .. "good.csv (nb201, 5 archs, 3 metrics)", "tostring")
t.is(b:query(A3, "acc"), 93.25, "query by string")
t.is(b:query(sp:parse(A2), "loss"), 1.5, "query by naslab.Arch")
local row = b:query(A4)
t.ok(row.acc == 85.5 and row.loss == 0.45 and row.params_m == 0.13, "query without metric: the whole row")
local nan = b:query(A5, "acc")
t.ok(nan ~= nan, "nan marks a missing value")
t.is(b:index(A3), 12, "index gives the file's idx")
t.is(b:index(sp:parse(A1)), 10, "index of an arch")

local archs = b:archs()
local order = {}
for i, a in ipairs(archs) do order[i] = tostring(a) end
t.is(table.concat(order, " "), table.concat({ A1, A2, A3, A4, A5 }, " "), "archs() in file order")

local best, v = b:best("acc")
t.is(tostring(best), A3, "best acc (max by default, NaN skipped)")
t.is(v, 93.25, "its value")
best, v = b:best("acc", "min")
t.is(tostring(best), A1, "best acc, min")
t.is(v, 10.0, "its value")
best, v = b:best("loss", "min")
t.is(tostring(best), A3, "lowest loss")

local col = b:column("loss")
t.is(#col, 5, "column length")
t.is(table.concat(col, ","), "2.3,1.5,0.21,0.45,0.6", "column values in file order")
local tc = b:column("loss", "tensor")
t.ok(type(tc) == "userdata", "column as a tensor")

-- Errors: misuse raises with exact messages.
t.error_is(function() b:query(A3, "nope") end, "unknown metric 'nope' (known: acc, loss, params_m)", "unknown metric")
t.error_is(function() b:query("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "acc") end,
  "arch '|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|' is not in the benchmark '" .. dir .. "good.csv'",
  "unknown arch")
t.error_is(function() b:query(42, "acc") end, "bad argument #1 to 'query' (naslab.Arch or string expected, got number)",
  "wrong type")
t.error_like(function() b:query("|bogus~0|", "acc") end, "bad argument #1 to 'query' %(bad nb201 cell at character 2", "bad arch text")
t.error_is(function() b:query(nl.space("nb101"):sample(nl.rng(1)), "acc") end,
  "bad argument #1 to 'query' (expected an nb201 arch, got an nb101 arch)", "arch of another space")
t.error_is(function() b:best("acc", "median") end, "bad argument #2 to 'best' (invalid option 'median')", "best direction")
t.error_is(function() b:column("acc", "list") end, "bad argument #2 to 'column' (invalid option 'list')", "column kind")
t.error_is(function() nl.bench.load({}) end, "bad argument #1 to 'load' (string expected, got table)", "path type")
t.error_is(function() nl.bench.load(dir .. "good.csv", { foo = 1 }) end,
  "bad argument #2 to 'load' (unknown option 'foo' (known: space, cost_column, query_seconds, macs_per_second))",
  "unknown option")
t.error_is(function() nl.bench.load(dir .. "good.csv", { cost_column = "acc", query_seconds = 1 }) end,
  "bad argument #2 to 'load' (give either 'cost_column' or 'query_seconds', not both)", "both cost options")
t.error_is(function() nl.bench.load(dir .. "good.csv", { query_seconds = -1 }) end,
  "bad argument #2 to 'load' (option 'query_seconds' must be a positive number)", "negative query_seconds")
t.error_is(function() nl.bench.load(dir .. "good.csv", { space = "nb999" }) end,
  "bad argument #2 to 'load' (unknown space 'nb999' (known: nb201, nb101, mbv3))", "unknown space name")

-- Cost model: no time column, so FLOPs; the formula is in info().
local info = b:info()
t.is(info.cost.model, "flops", "cost model: flops")
t.is(info.cost.formula, "seconds = 3 * epochs * images * MACs / macs_per_second", "formula stated")
t.ok(info.cost.epochs == 200 and info.cost.images == 50000 and info.cost.macs_per_second == 1e12, "constants stated")
t.ok(info.size == 5 and info.space == "nb201" and info.has_idx == true and #info.metrics == 3, "info fields")
local a3 = sp:parse(A3)
t.near(b:cost(a3), 3 * 200 * 50000 * a3:flops() / 1e12, 1e-9, "cost of the all-conv3x3 cell")
t.ok(b:cost(a3) > b:cost(A1), "bigger cell, longer training")
local fast = assert(nl.bench.load(dir .. "good.csv", { space = sp, macs_per_second = 2e12 }))
t.near(fast:cost(a3), b:cost(a3) / 2, 1e-9, "macs_per_second option; space given as a naslab.Space")

local q = assert(nl.bench.load(dir .. "quoted_crlf.csv"))
t.is(q:info().cost.model, "column", "train_seconds column found")
t.is(q:info().cost.column, "train_seconds", "its name in info()")
t.is(q:cost(A4), 3600.5, "cost from the column")
t.is(q:index(A4), 1, "no idx column: index is the 0-based row")
t.is(q:info().has_idx, false, "has_idx false")
local fixed = assert(nl.bench.load(dir .. "quoted_crlf.csv", { query_seconds = 2.5 }))
t.is(fixed:info().cost.model, "fixed", "query_seconds: fixed model")
t.is(fixed:cost(A1), 2.5, "fixed cost")
local bycol = assert(nl.bench.load(dir .. "quoted_crlf.csv", { cost_column = "top1" }))
t.is(bycol:cost(A2), 71.5, "explicit cost_column")
local nocol, ncmsg = nl.bench.load(dir .. "quoted_crlf.csv", { cost_column = "nope" })
t.ok(nocol == nil and ncmsg == dir .. "quoted_crlf.csv: cost column: unknown metric 'nope' (known: top1, train_seconds)",
  "unknown cost column: nil, message")

-- Malformed files: nil and a message naming file, line and column.
local cases = {
  { "bad_number.csv", ":3: column 'acc': 'abc' is not a number" },
  { "missing_column.csv", ":1: missing column 'arch' (or 'adj49' and 'ops')" },
  { "short_line.csv", ":3: column 'loss': missing (the line has 3 of 4 fields)" },
  { "long_line.csv", ":3: field 5: more fields than the header's 4 columns" },
  { "unterminated_quote.csv", ":3:3: unterminated quoted field (the quote opened here is never closed)" },
  { "duplicate_arch.csv", ":4: column 'arch': duplicate arch '" .. A1 .. "' (first on line 2)" },
  { "empty.csv", ": empty file (expected a header line)" },
  { "header_only.csv", ": no data rows after the header" },
  { "blank_inside.csv", ":3: blank line inside the table" },
  { "unknown_space.csv", ":2: column 'arch': cannot tell the search space from 'resnet18' (give the space in the options)" },
}
for _, c in ipairs(cases) do
  local r, msg = nl.bench.load(dir .. c[1])
  t.ok(r == nil, c[1] .. ": nil")
  t.is(msg, dir .. c[1] .. c[2], c[1] .. ": message")
end
local r, msg = nl.bench.load(dir .. "unknown_arch.csv")
t.ok(r == nil and msg:find(dir .. "unknown_arch.csv:3: column 'arch': '|conv_5x5~0|", 1, true) == 1, "unknown arch")

-- nb101 through adj49 + ops.
local n1 = assert(nl.bench.load(dir .. "nb101_small.csv"))
t.is(n1:space():name(), "nb101", "adj49 means nb101")
local iso = nl.space("nb101"):spec({ { 0, 1, 1, 0 }, { 0, 0, 0, 1 }, { 0, 0, 0, 1 }, { 0, 0, 0, 0 } },
  { "input", "maxpool3x3", "conv3x3-bn-relu", "output" })
t.is(n1:query(iso, "acc"), 91.0, "an isomorphic spec finds its row")

-- Closing.
b:close()
t.error_is(function() b:size() end, "calling 'size' on bad self (benchmark is closed)", "closed benchmark")
t.is(tostring(b), "naslab.Bench (closed)", "tostring after close")
b:close()
t.ok(true, "close twice is fine")

-- The embedded default: naslab's own benchmark (data/nb201-fmnist.csv),
-- what nl.bench.load() returns when no file is named. It ships with the
-- source, so this part never skips.
local def = assert(nl.bench.load())
t.is(#def, 1000, "the default holds 1,000 cells")
t.is(def:space():name(), "nb201", "the default is an nb201 table")
t.is(table.concat(def:metrics(), ","), "valid_acc,test_acc,train_acc,train_loss,params,flops,train_seconds,seed",
  "the default's metrics")
t.is(nl.bench.load("nb201-fmnist"):path(), def:path(), "named lookup finds the same file")
local badrows, seen, distinct = {}, {}, 0
for _, a in ipairs(def:archs()) do
  local r = def:query(a)
  local why
  if tostring(a:canonical()) ~= tostring(a) then why = "not canonical"
  elseif seen[tostring(a)] then why = "duplicate"
  -- one input channel instead of three: the stem conv has 2*9*C fewer weights
  elseif r.params ~= a:params { C = 8, N = 2 } - 2 * 9 * 8 then why = "params"
  elseif r.flops ~= a:flops { C = 8, N = 2, resolution = 16 } - 2 * 9 * 8 * 16 * 16 then why = "flops"
  elseif def:cost(a) ~= r.train_seconds then why = "cost is not train_seconds"
  elseif not (r.test_acc > 10 and r.test_acc <= 100 and r.valid_acc > 10 and r.valid_acc <= 100) then
    why = "accuracy out of range"
  elseif r.seed ~= a:index() then why = "seed is not the cell index"
  end
  if why then badrows[#badrows + 1] = tostring(a) .. ": " .. why end
  if not seen[tostring(a)] then distinct = distinct + 1 end
  seen[tostring(a)] = true
end
t.is(distinct, 1000, "1,000 distinct canonical cells")
t.is(table.concat(badrows, "\n"), "", "every row: canonical, params, flops, cost, accuracy and seed agree")

-- The real tables.
local shared = os.getenv("NASLAB_SHARED")
local path = shared and shared .. "/data/nb201.csv"
local fh = path and io.open(path)
if not fh then
  t.diag("skipping the real NAS-Bench-201 tables: "
    .. (path and path .. " is not readable" or "NASLAB_SHARED is not set"))
  t.done()
end
fh:close()
local clock = os.clock()
local real = assert(nl.bench.load(path))
t.diag(string.format("nb201.csv loaded in %.1f ms (CPU)", (os.clock() - clock) * 1e3))
t.is(#real, 15625, "15,625 rows")
local top10, acc10 = real:best("c10_test")
t.near(acc10, 94.3733, 5e-5, "best c10_test 94.3733")
t.is(real:index(top10), 6111, "at idx 6111")
local top100, acc100 = real:best("c100_test")
t.near(acc100, 73.5133, 5e-5, "best c100_test 73.5133")
t.is(real:index(top100), 9930, "at idx 9930")
t.is(real:query("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
  "c10_test"), 93.66, "idx 1 c10_test")
t.is(#real:column("params_m"), 15625, "a whole column")
local lat = assert(nl.bench.load(shared .. "/data/nb201_latency.csv"))
t.is(#lat, 15625, "latency table loads the same way")
t.is(table.concat(lat:metrics(), ","), "lat_eyeriss_ms,lat_fpga_ms,lat_pixel3_ms,lat_raspi4_ms", "latency metrics")
t.is(lat:query(top10, "lat_pixel3_ms"), lat:column("lat_pixel3_ms")[6112], "join by arch agrees with file order")
t.done()
