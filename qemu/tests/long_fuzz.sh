# The long run of fuzz.sh: 2000 more seeds (1001..3000). Not part of
# `make test`; run it with `make test T=long_fuzz` (or test-debug).
# boots: 1
FUZZ_FIRST=1001
FUZZ_SEEDS=2000
. /tests/fuzz.sh
