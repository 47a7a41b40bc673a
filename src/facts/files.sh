# The paths the plan compares. FACTS_FILES, FACTS_DIRECTORIES and
# FACTS_READABLE each run the command they are given with the request's paths
# as its arguments, in the request's order: a path's place names its records
# (`file.0`, `directory.1`, `readable.0`).
emit_files() {
  files_index=0
  for files_path; do
    emit_file "file.$files_index" "$files_path"
    files_index=$((files_index + 1))
  done
}
emit_directories() {
  files_index=0
  for files_path; do
    if [ -L "$files_path" ] || [ -d "$files_path" ]; then emit_path "directory.$files_index" "$files_path"; fi
    files_index=$((files_index + 1))
  done
}
# Whether the PostgreSQL OS user can read each file (a TLS key the new
# configuration names).
emit_readable() {
  files_index=0
  for files_path; do
    if as_pg test -r "$files_path"; then emit "readable.$files_index" yes; else emit "readable.$files_index" no; fi
    files_index=$((files_index + 1))
  done
}
FACTS_FILES emit_files
FACTS_DIRECTORIES emit_directories
FACTS_READABLE emit_readable
