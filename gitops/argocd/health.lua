-- Argo CD health check for dropwatch.dev/DropWatchPolicy (docs/gitops.md).
-- Argo CD runs this with the live object in the global `obj` and expects {status, message} back.
-- Written for Lua 5.1 (Argo CD's interpreter); tested with lua5.4 by test/integration/gitops.test.ts
-- on status objects written by the real operator. Order of the checks:
--   deleting, no status yet, status older than the spec    -> Progressing
--   Stalled=True (needs a change from you)                  -> Degraded
--   Reconciling=True (rolling out, waiting for first reports) -> Progressing
--     (a Degraded condition during a rollout is often transient: it is added to the message)
--   Degraded=True (stale nodes, unscheduled agents, lost events, missing sources) -> Degraded
--   Ready=True                                              -> Healthy
--   anything else                                           -> Progressing
local hs = { status = "Progressing", message = "" }

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

-- A condition counts only if it was computed for the current spec.
local function condition(ctype)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == ctype then
      if c.observedGeneration ~= nil and c.observedGeneration < generation then
        return nil
      end
      return c
    end
  end
  return nil
end

local function describe(c)
  local text = c.type .. " " .. tostring(c.status)
  if c.reason ~= nil and c.reason ~= "" then
    text = text .. " (" .. c.reason .. ")"
  end
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "being deleted: the operator removes the agent DaemonSet, the node reports and its Node conditions, then its finalizer"
  return hs
end

if obj.status == nil or obj.status.observedGeneration == nil then
  hs.message = "waiting for the dropwatch operator to write a status (is the operator running?)"
  return hs
end

if obj.status.observedGeneration < generation then
  hs.message = "waiting for the operator to process generation " .. tostring(generation) ..
    " (the status describes generation " .. tostring(obj.status.observedGeneration) .. ")"
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local degraded = condition("Degraded")
local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
  if degraded ~= nil and degraded.status == "True" then
    hs.message = hs.message .. "; " .. describe(degraded)
  end
  return hs
end

if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded)
  return hs
end

local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

if ready ~= nil then
  hs.message = describe(ready)
else
  hs.message = "no Ready condition for generation " .. tostring(generation) .. " yet"
end
return hs
