# crashenum at length (run only when named: make test T=long_crashenum):
# every case of crashenum.sh with every crash point of up to 10 pending
# pieces enumerated (all 2^n subsets), 128 random subsets of larger ones,
# up to 500 states checked per operation; the cases are spread over six
# boots (a boot must end within the harness's 10 minutes).
# boots: 6
# pmem: 16M
CRASH_SOURCED=1
. /tests/crashenum.sh
EXH=10 SAMPLES=128 MAX=500
CRASH_PARTS=6 CRASH_PART=${1:-1}
start=$(date +%s)
crash_cases
echo "CRASHENUM total (part $CRASH_PART of $CRASH_PARTS): $total_states crash states checked in $(($(date +%s) - start))s"
