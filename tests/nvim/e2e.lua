-- Neovim's built-in LSP client against `skillc lsp`, for tests/nvim_e2e.rs.
-- Opens a broken skill file, waits for diagnostics, fixes the buffer, waits
-- for them to clear, and writes both sets as JSON. Parameters come from the
-- environment: SKILLC_BIN, SKILLC_ROOT, SKILLC_FILE, SKILLC_TYPO, SKILLC_FIX,
-- SKILLC_OUT.
local env = vim.env
local result = { version = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) }

local function finish()
  vim.fn.writefile({ vim.json.encode(result) }, env.SKILLC_OUT)
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(env.SKILLC_FILE))
  local buf = vim.api.nvim_get_current_buf()
  local config = { name = "skillc", cmd = { env.SKILLC_BIN, "lsp" }, root_dir = env.SKILLC_ROOT }
  local client_id
  if vim.lsp.start then
    -- Neovim 0.8 and later: starts (or reuses) the client and attaches the buffer.
    client_id = vim.lsp.start(config)
  else
    -- Neovim 0.7 (Debian 12): the same client, started and attached by hand.
    client_id = vim.lsp.start_client(config)
    vim.lsp.buf_attach_client(buf, client_id)
  end
  result.client = client_id ~= nil

  local function snapshot()
    local list = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      local lsp = d.user_data and d.user_data.lsp or {}
      table.insert(list, {
        code = d.code or lsp.code,
        source = d.source,
        lnum = d.lnum,
        col = d.col,
        severity = d.severity,
        message = d.message,
      })
    end
    return list
  end

  result.first_in_time = vim.wait(30000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
  result.first = snapshot()

  -- Fix the typo in the buffer, without saving: the client sends didChange.
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  for i, line in ipairs(lines) do
    local s, e = string.find(line, env.SKILLC_TYPO, 1, true)
    if s then
      lines[i] = line:sub(1, s - 1) .. env.SKILLC_FIX .. line:sub(e + 1)
    end
  end
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  result.second_in_time = vim.wait(30000, function() return #vim.diagnostic.get(buf) == 0 end, 20)
  result.second = snapshot()

  vim.lsp.stop_client(client_id)
  vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 20)
end)
if not ok then
  result.error = tostring(err)
end
finish()
