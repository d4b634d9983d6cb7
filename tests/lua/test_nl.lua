-- SPDX-License-Identifier: GPL-3.0-or-later
-- The nl table, require "naslab", the Lua half of the library, arg handling.
local t = require "tap"

t.is(type(nl), "table", "nl is a global table")
t.is(nl.version, "0.1.0", "nl.version")
t.is(require "naslab", nl, 'require "naslab" is nl')
t.is(type(arg), "table", "arg is set for scripts")
t.ok(arg[0]:match("test_nl%.lua$"), "arg[0] is the script")
t.is(nl.repr({1, 2, x = {y = "z"}}), '{1, 2, x = {y = "z"}}', "repr of nested tables")
t.is(nl.repr({"a\nb"}), '{"a\\nb"}', "repr quotes strings inside tables")
t.is(nl.repr("a b"), "a b", "a string on its own prints as itself")
local cyc = {}; cyc.self = cyc
t.is(nl.repr(cyc), "{self = <cycle>}", "repr of a cycle")
local big = {}; for i = 1, 30 do big[i] = i end
t.ok(nl.repr(big):find("%.%.%. %(30 items%)"), "repr elides long lists")
t.done()
