# Sourced by the long runs on record (repro.sh, prune-compare.sh): what they say of the
# machine and of the wall time, in one place.

# This machine in words: "2 cores, 25 GB, <CPU model>".
machine() {
  echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1e6}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
}

# Appends a line for each minute to FILE while the run goes on (a killed run loses at most
# one); sets HEARTBEAT to the pid to kill when it ends.
heartbeat() { # FILE
  ( while sleep 60; do date -u +%Y-%m-%dT%H:%M >> "$1"; done ) &
  HEARTBEAT=$!
}

# The wall time a heartbeat FILE kept: "H h M min".
wall_time() { # FILE
  local mins; mins=$(sort -u "$1" | wc -l)
  echo "$((mins / 60)) h $((mins % 60)) min"
}
