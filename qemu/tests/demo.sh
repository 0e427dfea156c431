# A short tour of nova (make demo).
set -x
cat /proc/filesystems | grep nova
mount | grep nova
cd /mnt/nova
mkdir -p demo/dir
echo hello > demo/hello.txt 2>/dev/null
ln -s hello.txt demo/link
mknod demo/fifo p
ls -la demo
df -k /mnt/nova
cat /proc/fs/nova/pmem0/stats
cat /proc/fs/nova/pmem0/snapshots
cd /
