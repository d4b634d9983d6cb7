-- SPDX-License-Identifier: GPL-3.0-or-later
-- tap.lua - a small Test Anything Protocol module for naslab's Lua tests, run by
-- the naslab binary under make check (automake's tap-driver.sh reads it).
local M = {}
local n, failed = 0, 0

local function report(cond, name, diag)
  n = n + 1
  io.write(string.format("%s %d - %s\n", cond and "ok" or "not ok", n, name or ""))
  if not cond then
    failed = failed + 1
    if diag then io.write("#   ", (tostring(diag):gsub("\n", "\n#   ")), "\n") end
  end
  io.flush()
  return cond
end

function M.ok(cond, name) return report(cond and true or false, name) end

function M.is(got, want, name)
  return report(got == want, name,
    string.format("got %s, want %s", tostring(got), tostring(want)))
end

function M.near(got, want, tol, name)
  local good = type(got) == "number" and math.abs(got - want) <= tol
  return report(good, name, string.format("got %.17g, want %.17g (tol %g)",
    tonumber(got) or 0 / 0, want, tol))
end

-- Calls fn and checks that it raises an error whose message matches the Lua
-- pattern `pattern` (use plain=true to compare literally).
function M.error_like(fn, pattern, name, plain)
  local okc, err = pcall(fn)
  if okc then return report(false, name, "no error raised") end
  local msg = tostring(err)
  local found = msg:find(pattern, 1, plain) ~= nil
  return report(found, name, "error was: " .. msg .. "\nexpected: " .. pattern)
end

-- Like error_like, with the expected message compared literally.
function M.error_is(fn, text, name) return M.error_like(fn, text, name, true) end

function M.skip_all(reason)
  io.write("1..0 # SKIP ", reason, "\n")
  os.exit(0)
end

function M.diag(msg) io.write("# ", (tostring(msg):gsub("\n", "\n# ")), "\n") end

function M.done()
  io.write(string.format("1..%d\n", n))
  io.flush()
  os.exit(failed == 0 and 0 or 1)
end

return M
