-- paced.lua makes each of wrk's connections wait between a response and its
-- next request, PACE_MS (default 10) on average, so that every target gets
-- the same moderate load (64 connections at 10 ms: about 6,000 requests/s)
-- instead of as much as it can take: latencies compared at equal load. The
-- wait is drawn uniformly from 0 to 2×PACE_MS, so that the connections do not
-- fall into step and arrive in bursts of 64.
local pace = tonumber(os.getenv("PACE_MS") or "10")

math.randomseed(os.time() + math.floor(os.clock() * 1e6))

function delay()
	return math.random(0, 2 * pace)
end
