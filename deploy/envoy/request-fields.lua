-- Envoy's grpc_json_transcoder fills one request message from a REST call's
-- path, query and JSON body, and left alone it:
-- * drops a body field the message does not have, without a word (it has no
--   option to refuse one), so a misspelt "waitlist_capasity" would create a
--   section with no waitlist and answer 200;
-- * lets a query parameter or a body field win over the same field of the
--   path, so DELETE /departments/3?department_id=2 deleted department 2;
-- * takes a query parameter for a field of a body: "*" request, whose body is
--   meant to hold every field the path does not (POST /departments?name=X);
-- * takes the last of a field given twice ({"name":"A","name":"B"}, once by
--   each of its two names, or ?day=Monday&day=Friday);
-- * reads a JSON body sent with a GET or a DELETE, whose routes take none, and
--   lets it win over the path too (DELETE /departments/3 with the body
--   {"department_id":2} deleted department 2);
-- * passes a body over its own size limit (max_request_body_size) whenever the
--   body arrives in pieces small enough that its buffer never holds that much
--   at once, so whether a 100 KB body was refused depended on the network.
-- This filter runs before the transcoder and answers 400 naming the first such
-- key instead, 400 for a body on a route that takes none (an empty body, or
-- {}, passes), and 413 for a body over MAX_BODY.
--
-- ROUTES, above this text in gen/request-fields.lua, comes from proto/
-- (lib/envoy-request-fields.ts): per HTTP method, for each REST route, a Lua
-- pattern for its path and the names of the fields its path sets (path), its
-- query may hold (query) and its body may hold (body, only for a route that
-- takes one; inBody, the request's fields that body sets).
-- Each field goes by its proto name or its JSON (lowerCamel) name, as the
-- transcoder accepts both; query and body map each name to its proto name, so
-- that the two names of one field count as one. A query parameter this table
-- does not know is left to the transcoder, which refuses it
-- (reject_unknown_query_parameters). Anything this scanner cannot read as a
-- JSON object (not JSON, not an object, truncated) passes untouched: the
-- transcoder refuses it with its own 400. gRPC calls (content-type
-- application/grpc) and paths no route matches pass untouched too.

-- The most a REST request's body may hold, in bytes: the transcoder's
-- max_request_body_size in deploy/envoy/envoy.yaml, which this filter enforces
-- on the whole body. A body this size transcodes to a message well under the
-- services' 256 KiB limit (lib/grpc/service.ts).
local MAX_BODY = 65536

local QUOTE, BACKSLASH, COLON, COMMA = 34, 92, 58, 44
local OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY = 123, 125, 91
local SIMPLE_ESCAPES = { [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t" }

-- The position of the first byte at or after pos that is not JSON white space.
local function skipSpace(text, pos)
  return string.find(text, "[^ \t\r\n]", pos) or #text + 1
end

-- Reads the JSON string starting at pos (its opening quote). Returns its
-- decoded text and the position after its closing quote, or nil if it is not
-- a well-formed string. A \u escape above U+007F decodes to "?": no field name
-- holds one, so the key is unknown either way.
local function readString(text, pos)
  local parts, from = {}, pos + 1
  while true do
    local at = string.find(text, '["\\]', from)
    if at == nil then return nil end
    parts[#parts + 1] = string.sub(text, from, at - 1)
    if string.byte(text, at) == QUOTE then return table.concat(parts), at + 1 end
    local escape = string.byte(text, at + 1)
    if SIMPLE_ESCAPES[escape] then
      parts[#parts + 1] = SIMPLE_ESCAPES[escape]
      from = at + 2
    elseif escape == 117 then -- \uXXXX
      local hex = string.sub(text, at + 2, at + 5)
      if not string.find(hex, "^%x%x%x%x$") then return nil end
      local code = tonumber(hex, 16)
      parts[#parts + 1] = code < 128 and string.char(code) or "?"
      from = at + 6
    else
      return nil
    end
  end
end

-- Skips the JSON value starting at pos. Returns the position after it, or nil.
local function skipValue(text, pos)
  local first = string.byte(text, pos)
  if first == QUOTE then
    local _, after = readString(text, pos)
    return after
  end
  if first ~= OPEN_OBJECT and first ~= OPEN_ARRAY then
    -- a number, true, false or null: up to the next separator
    local stop = string.find(text, "[,}%] \t\r\n]", pos)
    if stop == nil or stop == pos then return nil end
    return stop
  end
  local depth, from = 0, pos
  while true do
    local at = string.find(text, '["{}%[%]]', from)
    if at == nil then return nil end
    local c = string.byte(text, at)
    if c == QUOTE then
      local _, after = readString(text, at)
      if after == nil then return nil end
      from = after
    else
      depth = depth + ((c == OPEN_OBJECT or c == OPEN_ARRAY) and 1 or -1)
      if depth == 0 then return at + 1 end
      from = at + 1
    end
  end
end

-- The first top-level key of the JSON object `text` that `route` refuses, and
-- why; nil when each key is a field of the body given once, or `text` is not an
-- object this scanner can read.
local function firstRefusedKey(text, route)
  local pos = skipSpace(text, 1)
  if string.byte(text, pos) ~= OPEN_OBJECT then return nil end
  pos = skipSpace(text, pos + 1)
  if string.byte(text, pos) == CLOSE_OBJECT then return nil end
  local seen = {}
  while true do
    if string.byte(text, pos) ~= QUOTE then return nil end
    local key, after = readString(text, pos)
    if key == nil then return nil end
    local field = route.body[key]
    if field == nil then
      if route.path[key] then return key, "set by the path; the body must not set it" end
      return key, "no such field in this request's body"
    end
    if seen[field] then return key, "this field is given more than once" end
    seen[field] = true
    pos = skipSpace(text, after)
    if string.byte(text, pos) ~= COLON then return nil end
    pos = skipValue(text, skipSpace(text, pos + 1))
    if pos == nil then return nil end
    pos = skipSpace(text, pos)
    local c = string.byte(text, pos)
    if c ~= COMMA then return nil end -- "}" ends a body whose keys are all known
    pos = skipSpace(text, pos + 1)
  end
end

-- A query parameter's name as the transcoder reads it: "+" is a space
-- (query_param_unescape_plus) and %XX the byte it names.
local function unescape(name)
  name = string.gsub(name, "+", " ")
  return (string.gsub(name, "%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- The first parameter of `query` (the text after "?") that `route` refuses, and
-- why; nil when there is none. A name with a dot (a.b) stands for its field a.
local function firstRefusedParameter(query, route)
  local seen = {}
  for pair in string.gmatch(query, "[^&]+") do
    local name = unescape(string.match(pair, "^[^=]*"))
    local top = string.match(name, "^[^.]*")
    if route.path[top] then return name, "set by the path; the query must not set it" end
    if route.inBody ~= nil and route.inBody[top] then
      return name, "a field of the body; the query must not set it"
    end
    local field = route.query[top]
    if field ~= nil then
      if seen[field] then return name, "this parameter is given more than once" end
      seen[field] = true
    end
  end
  return nil
end

-- Whether a verb has a route with a body: a request without a query or a body
-- on a verb that has none is passed at once.
local TAKES_BODY = {}
for verb, routes in pairs(ROUTES) do
  for _, route in ipairs(routes) do
    if route.body ~= nil then TAKES_BODY[verb] = true end
  end
end

-- The key as the answer may quote it: at most 64 bytes, each byte that is not
-- printable ASCII, a quote or a backslash written "?".
local function printable(key)
  return (string.gsub(string.sub(key, 1, 64), ".", function(c)
    local b = string.byte(c)
    if b < 32 or b > 126 or b == QUOTE or b == BACKSLASH then return "?" end
  end))
end

local function answer(handle, status, message)
  handle:respond({ [":status"] = status, ["content-type"] = "application/json" }, '{"code":3,"message":"' .. message .. '"}')
end

local function refuse(handle, key, reason)
  answer(handle, "400", printable(key) .. ": " .. reason)
end

-- Plain text: the local-reply mapper for a 413 without the transcoder's
-- x-envoy-original-path (deploy/envoy/envoy.yaml) wraps every such answer,
-- this one and Envoy's own when a body outgrows its buffer, in the JSON shape.
local function tooLarge(handle)
  handle:respond({ [":status"] = "413" }, "the request body must be at most " .. MAX_BODY .. " bytes")
end

-- Whether a body sent on a route that takes none says nothing: empty, or an
-- empty JSON object (which some clients send with every request).
local function saysNothing(body)
  local length = body:length()
  if length == 0 then return true end
  if length > 64 then return false end
  return string.find(body:getBytes(0, length), "^[ \t\r\n]*{[ \t\r\n]*}[ \t\r\n]*$") ~= nil
end

-- The checks above, on one request; answers with a refusal or returns to let it pass.
local function check(handle)
  local headers = handle:headers()
  local method = headers:get(":method")
  local routes = ROUTES[method]
  if routes == nil then return end
  local contentType = headers:get("content-type")
  if contentType ~= nil and string.find(contentType, "^application/grpc") then return end
  local path = headers:get(":path")
  -- Read before body(): the headers object is out of scope once body() has
  -- waited for the body, and a script error would let the request pass.
  local length = tonumber(headers:get("content-length") or "")
  local mark = string.find(path, "?", 1, true)
  local body
  if mark == nil and not TAKES_BODY[method] and (length == nil or length == 0) then
    -- The common GET or DELETE: no query, and no body (the request ended with
    -- its headers, so body() answers nil without waiting) passes at once.
    body = handle:body()
    if body == nil then return end
  end
  local query
  if mark ~= nil then path, query = string.sub(path, 1, mark - 1), string.sub(path, mark + 1) end
  -- The transcoder takes a path with a trailing slash as the path without it
  -- (/departments/1/ is /departments/1). Envoy has already merged repeated
  -- slashes and removed dot segments (merge_slashes, normalize_path), so
  -- /departments/1/. arrives here as /departments/1/.
  if #path > 1 and string.byte(path, #path) == 47 then path = string.sub(path, 1, #path - 1) end
  local matched
  for _, route in ipairs(routes) do
    if string.find(path, route.pattern) then
      matched = route
      break
    end
  end
  if matched == nil then return end
  if query ~= nil then
    local name, reason = firstRefusedParameter(query, matched)
    if name ~= nil then return refuse(handle, name, reason) end
  end
  -- Refused from its length alone, before any of it is buffered.
  if length ~= nil and length > MAX_BODY then return tooLarge(handle) end
  -- A body sent without a length is buffered here up to Envoy's buffer limit
  -- (1 MiB), past which Envoy answers 413 itself.
  body = body or handle:body()
  if body == nil then return end
  if body:length() > MAX_BODY then return tooLarge(handle) end
  if matched.body == nil then
    if saysNothing(body) then return end
    return answer(handle, "400", "this request takes no body: its fields go in the path and the query")
  end
  if body:length() == 0 then return end
  local key, reason = firstRefusedKey(body:getBytes(0, body:length()), matched)
  if key ~= nil then return refuse(handle, key, reason) end
end

-- Envoy lets a request pass when its Lua script fails, which would turn a bug
-- here into silence: every check above would stop refusing anything (the first
-- version of the no-body check did just that). A failure is answered 500
-- instead, and logged; LuaJIT lets body() wait inside pcall.
function envoy_on_request(handle)
  local ok, err = pcall(check, handle)
  if not ok then
    handle:logErr("request-fields: " .. tostring(err))
    handle:respond({ [":status"] = "500", ["content-type"] = "application/json" }, '{"code":13,"message":"internal error"}')
  end
end
