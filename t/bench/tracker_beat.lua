-- t/bench/tracker_beat.lua - wrk script: POST /heartbeat with the Bearer
-- token of a different peer on every request (tokens: one per line in the
-- file given as the script's first argument, or in $BENCH_TOKENS).  A
-- second argument (or $BENCH_PACE_MS) paces each connection: one request
-- every that many milliseconds.
local tokens = {}
local n = 0

function init(args)
   for line in io.lines(args[1] or os.getenv("BENCH_TOKENS")) do
      tokens[#tokens + 1] = line
   end
   -- each wrk thread starts at another place in the list
   n = math.random(#tokens)
   local pace = tonumber(args[2] or os.getenv("BENCH_PACE_MS") or "")
   if pace then
      delay = function() return pace end
   end
end

function request()
   n = n % #tokens + 1
   return wrk.format("POST", "/heartbeat",
                     { ["Authorization"] = "Bearer " .. tokens[n],
                       ["Content-Type"] = "application/json" },
                     "{}")
end
