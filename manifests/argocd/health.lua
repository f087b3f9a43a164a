-- Argo CD health check for globaldb.io/GlobalDatabase, from its status
-- conditions and the paused annotation (docs/api.md, "Conditions and reasons").
--   Suspended    globaldb.io/paused is "true": the controller makes no AWS calls
--                (the message adds the Ready reason when it is not True)
--   Progressing  no status yet, or not yet for this generation of the spec;
--                an operation in flight (Progressing=True) with nothing degraded;
--                the writer's first probe verdict still to come
--   Degraded     Degraded=True (the reason names the refusal or failure, e.g.
--                AwaitingFailoverApproval); Ready=False for any other reason
--   Healthy      Ready=True: the writer is where the spec wants it and healthy
-- The message is "Reason: message" of the condition that decided.
local hs = {}

local function condition(ctype)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function says(c)
  local m = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    m = m .. ": " .. c.message
  end
  return m
end

local ready = condition("Ready")
local annotations = (obj.metadata or {}).annotations or {}
if annotations["globaldb.io/paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "paused by the globaldb.io/paused annotation: no AWS calls"
  -- A pause must not hide a writer that is down or in the wrong region.
  if ready ~= nil and ready.status ~= "True" then
    hs.message = hs.message .. "; not Ready: " .. says(ready)
  end
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the controller's first status"
  return hs
end
local generation = (obj.metadata or {}).generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "waiting for the controller to observe generation " .. tostring(generation)
  return hs
end

local degraded = condition("Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = says(degraded)
  return hs
end
local progressing = condition("Progressing")
if progressing ~= nil and progressing.status == "True" then
  hs.status = "Progressing"
  hs.message = says(progressing)
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = says(ready)
  return hs
end
if ready.status == "Unknown" or ready.reason == "PrimaryHealthUnknown" then
  hs.status = "Progressing"
  hs.message = says(ready)
  return hs
end
hs.status = "Degraded"
hs.message = says(ready)
return hs
