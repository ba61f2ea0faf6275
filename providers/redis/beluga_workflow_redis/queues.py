"""Queue entries in Redis: the ``queue_dispatch`` ability, each call one Lua script.

Keys of queue ``Q`` in key space ``K`` (the tag before ``Q`` keeps them apart
from each other and from the states' keys):

- ``K:qentries:Q``: hash, workflow id to the entry as JSON (times as text,
  so they come back exact);
- ``K:qready:Q``: sorted set of the ready entries, scored by priority, the
  member the enqueue time (fixed width) and the id, so equal priorities go
  oldest first, then by id;
- ``K:qcounts:Q``: hash of claimed entries: ``all``, ``w:<holder>``, ``k:<key>``;
- ``K:qstarts:Q``: sorted set of claim times, for the rate limit;
- ``K:qdedup:Q``: hash, dedup key to the workflow id holding it.

A script runs alone on the server, so the claim reads the counts and takes
the entries in one atomic step, however many workers call it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from beluga_workflow.queues.definition import Queue
from beluga_workflow.queues.entries import QueueClaim, QueueEntry

__all__ = ["claim", "enqueue", "queued", "release"]

_COMMON = """
local p = ARGV[1]
local function keys(q)
  return p .. ':qentries:' .. q, p .. ':qready:' .. q, p .. ':qcounts:' .. q,
         p .. ':qdedup:' .. q
end
local function drop(q, wid, e)
  local ekey, rkey, ckey, dkey = keys(q)
  redis.call('HDEL', ekey, wid)
  redis.call('ZREM', rkey, e.m)
  if e.holder then
    redis.call('HINCRBY', ckey, 'all', -1)
    redis.call('HINCRBY', ckey, 'w:' .. e.holder, -1)
    if e.key then redis.call('HINCRBY', ckey, 'k:' .. e.key, -1) end
  end
  if e.dedup and redis.call('HGET', dkey, e.dedup) == wid then
    redis.call('HDEL', dkey, e.dedup)
  end
end
"""

# ARGV: key space, then (queue, id, entry JSON) per entry. Returns the ids added.
_ENQUEUE = (
    _COMMON
    + """
local added = {}
for i = 2, #ARGV, 3 do
  local q, wid, raw = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local ekey, rkey, ckey, dkey = keys(q)
  local new = cjson.decode(raw)
  local present = redis.call('HGET', ekey, wid)
  local old = present and cjson.decode(present)
  local owner = new.dedup and redis.call('HGET', dkey, new.dedup)
  if not (old and old.run == new.run) and not (owner and owner ~= wid) then
    if old then drop(q, wid, old) end
    redis.call('HSET', ekey, wid, raw)
    redis.call('ZADD', rkey, new.p, new.m)
    if new.dedup then redis.call('HSET', dkey, new.dedup, wid) end
    added[#added + 1] = wid
  end
end
return added
"""
)

# ARGV: key space, queue, holder, count, now, concurrency, worker concurrency,
# key concurrency, rate limit, rate period ('' for no limit). Returns the
# score of the claim that holds the rate window shut ('' if none), then the
# claimed entries as JSON.
_CLAIM = (
    _COMMON
    + """
local q, holder, count, now = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local conc, wconc, kconc = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local rlimit, rperiod = tonumber(ARGV[9]), tonumber(ARGV[10])
local ekey, rkey, ckey = keys(q)
local skey = p .. ':qstarts:' .. q
local function held(field) return tonumber(redis.call('HGET', ckey, field) or '0') end
local room = count
if conc then room = math.min(room, conc - held('all')) end
if wconc then room = math.min(room, wconc - held('w:' .. holder)) end
if rlimit then
  redis.call('ZREMRANGEBYSCORE', skey, '-inf', tonumber(now) - rperiod)
  room = math.min(room, rlimit - redis.call('ZCARD', skey))
end
local out = {''}
local skipped, taken = 0, 0
while taken < room do
  local members = redis.call('ZRANGE', rkey, skipped, skipped + 99)
  if #members == 0 then break end
  for _, m in ipairs(members) do
    if taken >= room then break end
    local wid = string.sub(m, 22)
    local e = cjson.decode(redis.call('HGET', ekey, wid))
    if kconc and e.key and held('k:' .. e.key) >= kconc then
      skipped = skipped + 1
    else
      redis.call('ZREM', rkey, m)
      e.holder, e.claimed = holder, now
      local raw = cjson.encode(e)
      redis.call('HSET', ekey, wid, raw)
      redis.call('HINCRBY', ckey, 'all', 1)
      redis.call('HINCRBY', ckey, 'w:' .. holder, 1)
      if e.key then redis.call('HINCRBY', ckey, 'k:' .. e.key, 1) end
      if rlimit then
        redis.call('ZADD', skey, now, now .. ':' .. redis.call('INCR', skey .. ':seq'))
      end
      out[#out + 1] = wid
      out[#out + 1] = raw
      taken = taken + 1
    end
  end
end
if rlimit and taken < count then
  local shut = redis.call('ZREVRANGE', skey, rlimit - 1, rlimit - 1, 'WITHSCORES')
  if #shut == 2 then out[1] = shut[2] end
end
return out
"""
)

# ARGV: key space, then (queue, id, run id) per entry. Returns how many were removed.
_RELEASE = (
    _COMMON
    + """
local gone = 0
for i = 2, #ARGV, 3 do
  local q, wid = ARGV[i], ARGV[i + 1]
  local ekey = keys(q)
  local present = redis.call('HGET', ekey, wid)
  if present then
    local e = cjson.decode(present)
    if e.run == ARGV[i + 2] then
      drop(q, wid, e)
      gone = gone + 1
    end
  end
end
return gone
"""
)

_SHA = {
    script: hashlib.sha1(script.encode()).hexdigest() for script in (_ENQUEUE, _CLAIM, _RELEASE)
}


async def enqueue(client: Redis, space: str, entries: Sequence[QueueEntry]) -> list[str]:
    args = [space]
    for entry in entries:
        args += [entry.queue, entry.workflow_id, _encode(entry)]
    added: Any = await _run(client, _ENQUEUE, args)
    return [bytes(wid).decode() for wid in added]


async def claim(
    client: Redis, space: str, queue: Queue, holder: str, count: int, now: float
) -> QueueClaim:
    rate = queue.rate
    limits = (queue.concurrency, queue.worker_concurrency, queue.key_concurrency)
    args = [space, queue.name, holder, str(count), repr(now)]
    args += ["" if limit is None else str(limit) for limit in limits]
    args += ["", ""] if rate is None else [str(rate.limit), repr(rate.period)]
    found: Any = await _run(client, _CLAIM, args)
    shut = bytes(found[0]).decode()
    opens = float(shut) + rate.period if shut and rate is not None else None
    entries = [
        _decode(queue.name, bytes(found[i]).decode(), bytes(found[i + 1]))
        for i in range(1, len(found), 2)
    ]
    return QueueClaim(entries, opens)


async def release(client: Redis, space: str, entries: Sequence[QueueEntry]) -> int:
    args = [space]
    for entry in entries:
        args += [entry.queue, entry.workflow_id, entry.run_id]
    return int(await _run(client, _RELEASE, args))


async def queued(client: Redis, space: str, queue: str) -> list[QueueEntry]:
    found: Any = await client.hgetall(f"{space}:qentries:{queue}")
    entries = [_decode(queue, bytes(wid).decode(), bytes(raw)) for wid, raw in found.items()]
    return sorted(entries, key=lambda entry: entry.order)


def _encode(entry: QueueEntry) -> str:
    record: dict[str, Any] = {
        "run": entry.run_id,
        "p": entry.priority,
        "at": repr(entry.enqueued_at),
        "m": f"{entry.enqueued_at:020.6f} {entry.workflow_id}",
    }
    if entry.key is not None:
        record["key"] = entry.key
    if entry.dedup_key is not None:
        record["dedup"] = entry.dedup_key
    return json.dumps(record, ensure_ascii=False)


def _decode(queue: str, workflow_id: str, raw: bytes) -> QueueEntry:
    record = json.loads(raw)
    claimed = record.get("claimed")
    return QueueEntry(
        queue=queue,
        workflow_id=workflow_id,
        run_id=record["run"],
        enqueued_at=float(record["at"]),
        priority=int(record["p"]),
        key=record.get("key"),
        dedup_key=record.get("dedup"),
        holder=record.get("holder"),
        claimed_at=None if claimed is None else float(claimed),
    )


async def _run(client: Redis, script: str, args: Sequence[str]) -> Any:
    try:
        return await client.evalsha(_SHA[script], 0, *args)
    except NoScriptError:
        return await client.eval(script, 0, *args)
