-- SPDX-License-Identifier: GPL-3.0-or-later
-- The event stream, run directories and charts from Lua (headless): what a
-- recipe publishes reaches the board's panes and a run's events.jsonl, and a
-- replay gives the same events back.
local t = require "tap"
local state = assert(os.getenv("XDG_STATE_HOME"), "XDG_STATE_HOME is set by the test harness")
local dir = state .. "/test_plot_run"
os.remove(dir .. "/events.jsonl")

-- Recording a run.
t.is(nl.run.dir(), nil, "no run is open at first")
t.is(nl.run.open(dir), dir, "open a run in a given directory")
nl.emit("search.query", { run = 1, query = 1, best = 90.5 })
nl.emit("search.query", { run = 1, query = 2, best = 91.25, arch = nl.space("nb201"):parse(
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|") })
nl.emit("rank", { ["true"] = { 1, 2, 3, 4 }, pred = { 1, 3, 2, 4 }, ok = true })
t.is(nl.run.close(), 3, "close says how many events were recorded")
local seen = {}
t.is(nl.run.replay(dir, function(e) seen[#seen + 1] = e end), 3, "replay reads them back")
t.is(seen[1].name, "search.query", "event name")
t.is(seen[2].best, 91.25, "a number field")
t.is(seen[2].arch, "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
  "an arch is recorded by its text form")
t.is(table.concat(seen[3].pred, ","), "1,3,2,4", "an array field")
t.is(seen[3].ok, 1, "a boolean is recorded as 1")
t.ok(seen[3].t >= seen[1].t, "times grow")

-- An automatic run that records nothing leaves nothing behind.
local auto = assert(nl.run.open())
t.ok(auto:find(state .. "/naslab/runs/", 1, true) == 1, "nl.run.open() makes a directory under XDG_STATE_HOME")
t.is(nl.run.close(), 0, "no events")
t.is(io.open(auto .. "/events.jsonl"), nil, "the empty automatic run is removed")

-- Errors.
t.error_like(function() nl.emit("x", { f = function() end }) end, "field 'f' is a function", "a bad field type")
t.error_like(function() nl.emit("x", { v = { 1, "a" } }) end, "field 'v': item 2 is not a number", "a bad array item")
t.error_like(function() nl.emit("") end, "an event needs a name", "an empty name")
local none, msg = nl.run.replay(state .. "/no-such-run", function() end)
t.ok(none == nil and msg:find("no-such-run/events.jsonl", 1, true), "replaying a missing run names the file")
local bad = io.open(state .. "/bad.jsonl", "w")
bad:write('{"t":0,"event":"a","x":1}\n{"t":1,"event":"b","x":}\n')
bad:close()
none, msg = nl.run.replay(state .. "/bad.jsonl", function() end)
t.ok(none == nil and msg:find("bad.jsonl:2: column 24", 1, true), "a corrupt line is named: " .. tostring(msg))

-- Charts: the standard panes and the script's own.
local panes = table.concat(nl.ui.panes(), ",")
t.ok(panes:find("ranking,pareto,search,train", 1, true) == 1, "the standard panes: " .. panes)
nl.plot.line { pane = "loss", x = 1, y = 2.5 }
nl.plot.line { pane = "loss", x = { 2, 3 }, y = { 2.0, 1.5 }, series = "valid" }
t.ok(table.concat(nl.ui.panes(), ","):find("loss", 1, true), "nl.plot.line makes its pane")
local csv = state .. "/loss.csv"
t.ok(nl.plot.save("loss", csv), "save a pane as CSV")
local text = io.open(csv):read("a")
t.ok(text:find("valid", 1, true) and text:find("1.5", 1, true), "the CSV holds the points")
local svg = state .. "/loss.svg"
t.ok(nl.plot.save("loss", svg), "save a pane as SVG")
t.ok(io.open(svg):read("a"):find("<svg", 1, true), "an SVG file")
nl.plot.scatter { pane = "cloud", x = { 1, 2, 3 }, y = { 3, 1, 2 } }
nl.ui.pane("front", { kind = "pareto", title = "my front", xlabel = "FLOPs", ylabel = "acc" })
t.ok(table.concat(nl.ui.panes(), ","):find("cloud,front", 1, true), "scatter and nl.ui.pane make panes")
t.error_like(function() nl.plot.save("nope", svg) end, "no pane 'nope'", "an unknown pane is named")
t.error_like(function() nl.plot.save("loss", state .. "/x.png") end, "must end in .svg or .csv", "a bad extension")
t.error_like(function() nl.plot.line { pane = "loss", x = { 1, 2 }, y = { 1 } } end, "one length", "x and y differ")
t.error_like(function() nl.ui.pane("p", { kind = "pie" }) end, "unknown kind 'pie'", "an unknown kind")
t.error_like(function() nl.plot.line { pane = "loss", x = 1, y = 1, colour = 2 } end, "colour", "an unknown option")
local cant, why = nl.plot.save("loss", state .. "/no/such/dir/x.svg")
t.ok(cant == nil and why:find("no/such/dir", 1, true), "an unwritable path is named")

t.done()
