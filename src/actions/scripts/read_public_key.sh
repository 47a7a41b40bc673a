cat "$KEY_PATH"
