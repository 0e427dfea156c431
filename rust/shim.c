// SPDX-License-Identifier: GPL-2.0
/*
 * nova's C shim: the few kernel interfaces Rust bindings do not reach
 * (fs_context glue, DAX mapping, pmem flushes, procfs, static inlines).
 * No file-system logic lives here; every function forwards to the kernel
 * or to a nova_rs_* function implemented in Rust.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/delay.h>
#include <linux/namei.h>
#include <linux/mount.h>
#include <linux/fs_parser.h>
#include <linux/dax.h>
#include <linux/libnvdimm.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/blkdev.h>
#include <linux/statfs.h>
#include <linux/uio.h>
#include <linux/splice.h>
#include <linux/iomap.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/kthread.h>
#include <linux/wait.h>
#include <linux/fiemap.h>
#include <linux/fileattr.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/module.h>
#include <linux/crc32.h>

/*
 * modinfo: the module version (the on-pmem format it writes is
 * FORMAT_VERSION 1, format/src/layout.rs). The rest of modinfo comes from
 * `module!` in nova_main.rs.
 */
MODULE_VERSION("0.9-format1");

/* Implemented in Rust (rust/vfs.rs and rust/procfs.rs). */
int nova_rs_parse_param(void *opts, const char *key, const char *val);
int nova_rs_fill_super(struct super_block *sb, void *opts);
void nova_rs_free_opts(void *opts);
int nova_rs_reconfigure(struct super_block *sb, bool read_only);
bool nova_rs_opts_view(void *opts, u64 *epoch, u32 *dev);
int nova_get_tree_view(struct fs_context *fc, u64 epoch, dev_t dev);
int nova_rs_proc_show(struct seq_file *m, void *sbi, int which);
ssize_t nova_rs_trace_read(void *sbi, char __user *ubuf, size_t count, loff_t *pos);
long nova_rs_proc_write(void *sbi, int which, const char *buf, size_t len);
s64 nova_rs_remap(struct inode *src, u64 spos, struct inode *dst, u64 dpos,
		  u64 len, bool dedupe);
bool nova_rs_same_device(struct super_block *src, struct super_block *dst);
void nova_rs_defer_times(struct inode *inode, bool on);
int nova_rs_iomap_begin(struct inode *inode, u64 pos, bool write, u64 *blk,
			u64 *pages, u64 *src, bool *shared);
struct dax_device *nova_rs_dax_dev(struct super_block *sb);
struct rw_semaphore *nova_rs_fault_gate(struct super_block *sb);

/* Called from Rust (declared in shim.rs). */
int nova_shim_init_fs_context(struct fs_context *fc, void *opts);
long long nova_shim_dax_map(struct super_block *sb, void *holder, void **kaddr,
			    struct dax_device **dax);
void nova_shim_dax_put(struct dax_device *dax, void *holder);
u32 nova_shim_crc32c(u32 crc, const void *p, size_t len);
bool nova_shim_crc32c_accelerated(void);
void nova_shim_flush(void *addr, size_t len);
void nova_shim_fence(void);
void nova_shim_set_owner(struct inode *inode, u32 uid, u32 gid);
u32 nova_shim_uid(struct inode *inode);
u32 nova_shim_gid(struct inode *inode);
void nova_shim_set_time(struct inode *inode, int which, s64 sec, u32 nsec);
void nova_shim_get_time(struct inode *inode, int which, s64 *sec, u32 *nsec);
void nova_shim_i_size_write(struct inode *inode, loff_t size);
bool nova_shim_dir_emit(struct dir_context *ctx, const char *name, int len,
			u64 ino, unsigned int type);
bool nova_shim_dir_emit_dots(struct file *file, struct dir_context *ctx);
struct inode *nova_shim_file_inode(struct file *file);
int nova_shim_proc_init(void);
void nova_shim_proc_exit(void);
int nova_shim_proc_add(const char *devname, void *sbi);
int nova_shim_fiemap_prep(struct inode *inode, struct fiemap_extent_info *fi,
			  u64 start, u64 *len);
int nova_shim_fiemap_fill(struct fiemap_extent_info *fi, u64 logical,
			  u64 phys, u64 len, u32 flags);
void nova_shim_proc_remove(const char *devname);
bool nova_shim_inode_is_new(struct inode *inode);
void nova_shim_inode_lock(struct inode *inode, bool shared);
void nova_shim_inode_unlock(struct inode *inode, bool shared);
void nova_shim_statfs_fill(struct kstatfs *buf, u64 magic, u64 bsize, u64 blocks,
			  u64 bfree, u64 bavail, u64 files, u64 ffree, u32 namelen);
int nova_shim_mmap_prepare(struct vm_area_desc *desc);
loff_t nova_shim_remap_file_range(struct file *file_in, loff_t pos_in,
				  struct file *file_out, loff_t pos_out,
				  loff_t len, unsigned int remap_flags);
ssize_t nova_shim_copy_file_range(struct file *file_in, loff_t pos_in,
				  struct file *file_out, loff_t pos_out,
				  size_t len, unsigned int flags);
void nova_shim_set_dax(struct inode *inode);
void nova_shim_mapping_lock(struct inode *inode);
void nova_shim_mapping_unlock(struct inode *inode);
int nova_shim_break_layout(struct inode *inode, u64 start, u64 end);
void nova_shim_evict_pages(struct inode *inode);
void nova_shim_fileattr_fill(struct file_kattr *fa, u32 flags);
int nova_shim_fileattr_flags(const struct file_kattr *fa, u32 *flags);
void nova_shim_set_inode_flags(struct inode *inode, u32 fs_flags);
bool nova_shim_may_log_in_evict(struct super_block *sb);
size_t nova_shim_copy_from_iter_nofault(void *dst, size_t len, struct iov_iter *i);
#define NOVA_UNMAP_SHUTDOWN 0
#define NOVA_UNMAP_PREPARE 1
#define NOVA_UNMAP_GATED 2
long nova_shim_unmap_all(struct super_block *sb, int mode);
void nova_shim_forget_mapped(struct inode *inode);
struct rw_semaphore *nova_shim_gate_new(int kind);
void nova_shim_gate_free(struct rw_semaphore *gate);
struct nova_cleaner;
struct nova_cleaner *nova_shim_cleaner_start(void *sbi, const char *devname);
void nova_shim_cleaner_wake(struct nova_cleaner *c);
void nova_shim_cleaner_stop(struct nova_cleaner *c);
struct posix_acl *nova_shim_acl_from_value(const void *value, size_t size);
size_t nova_shim_acl_value_len(const struct posix_acl *acl);
int nova_shim_acl_to_value(const struct posix_acl *acl, void *buf, size_t size);
struct posix_acl *nova_shim_acl_dup(struct posix_acl *acl);
void nova_shim_acl_release(struct posix_acl *acl);
struct posix_acl *nova_shim_get_inode_acl(struct inode *inode, int type);
void nova_shim_set_cached_acl(struct inode *inode, int type, struct posix_acl *acl);
int nova_shim_acl_chmod(struct posix_acl **acl, umode_t mode);
int nova_shim_acl_create(struct inode *dir, umode_t *mode,
			 struct posix_acl **dflt, struct posix_acl **acl);
int nova_shim_acl_update_mode(struct inode *inode, umode_t *mode,
			      struct posix_acl **acl);

/* ---- fs_context ---- */

static int nova_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	const char *val = NULL;

	if (param->type == fs_value_is_string)
		val = param->string;
	else if (param->type != fs_value_is_flag)
		return invalfc(fc, "%s: unsupported value type", param->key);
	/* A snapshot mount is read-only (its own super block: snapview.c). */
	if (!strcmp(param->key, "snapshot"))
		fc->sb_flags |= SB_RDONLY;
	return nova_rs_parse_param(fc->fs_private, param->key, val);
}

static int nova_fill_super(struct super_block *sb, struct fs_context *fc)
{
	return nova_rs_fill_super(sb, fc->fs_private);
}

static int nova_get_tree(struct fs_context *fc)
{
	u64 epoch;
	u32 dev;

	if (nova_rs_opts_view(fc->fs_private, &epoch, &dev))
		return nova_get_tree_view(fc, epoch, dev);
	return get_tree_bdev(fc, nova_fill_super);
}

static void nova_free_fc(struct fs_context *fc)
{
	nova_rs_free_opts(fc->fs_private);
	fc->fs_private = NULL;
}

static int nova_reconfigure(struct fs_context *fc)
{
	return nova_rs_reconfigure(fc->root->d_sb, fc->sb_flags & SB_RDONLY);
}

static const struct fs_context_operations nova_context_ops = {
	.parse_param = nova_parse_param,
	.get_tree = nova_get_tree,
	.free = nova_free_fc,
	.reconfigure = nova_reconfigure,
};

int nova_shim_init_fs_context(struct fs_context *fc, void *opts)
{
	fc->fs_private = opts;
	fc->ops = &nova_context_ops;
	return 0;
}

/* ---- DAX ---- */

/*
 * Maps the whole DAX device behind sb->s_bdev. Returns the number of bytes
 * mapped (>= 0) and sets *kaddr and *dax, or a negative errno.
 */
long long nova_shim_dax_map(struct super_block *sb, void *holder, void **kaddr,
			    struct dax_device **dax)
{
	u64 start_off = 0;
	long nr_pages, avail;
	int id;

	*dax = fs_dax_get_by_bdev(sb->s_bdev, &start_off, holder, NULL);
	if (!*dax)
		return -EOPNOTSUPP;
	nr_pages = bdev_nr_bytes(sb->s_bdev) >> PAGE_SHIFT;
	id = dax_read_lock();
	avail = dax_direct_access(*dax, PHYS_PFN(start_off), nr_pages,
				  DAX_ACCESS, kaddr, NULL);
	dax_read_unlock(id);
	if (avail < 0) {
		fs_put_dax(*dax, holder);
		*dax = NULL;
		return avail;
	}
	return (long long)min(avail, nr_pages) << PAGE_SHIFT;
}

void nova_shim_dax_put(struct dax_device *dax, void *holder)
{
	fs_put_dax(dax, holder);
}

/* ---- checksums (rust/kcrc.rs) ---- */

u32 nova_shim_crc32c(u32 crc, const void *p, size_t len)
{
	return crc32c(crc, p, len);
}

bool nova_shim_crc32c_accelerated(void)
{
	return crc32_optimizations() & CRC32C_OPTIMIZATION;
}

/* ---- persistent memory ordering ---- */

void nova_shim_flush(void *addr, size_t len)
{
	arch_wb_cache_pmem(addr, len);
}

void nova_shim_fence(void)
{
	wmb();
}

/* Machine-check safe read from pmem: returns the bytes NOT copied. */
/* ---- inode helpers (static inlines in the headers) ---- */

void nova_shim_set_owner(struct inode *inode, u32 uid, u32 gid)
{
	i_uid_write(inode, uid);
	i_gid_write(inode, gid);
}

u32 nova_shim_uid(struct inode *inode)
{
	return i_uid_read(inode);
}

u32 nova_shim_gid(struct inode *inode)
{
	return i_gid_read(inode);
}

void nova_shim_set_time(struct inode *inode, int which, s64 sec, u32 nsec)
{
	struct timespec64 ts = { .tv_sec = sec, .tv_nsec = nsec };

	switch (which) {
	case 0:
		inode_set_atime_to_ts(inode, ts);
		break;
	case 1:
		inode_set_mtime_to_ts(inode, ts);
		break;
	default:
		inode_set_ctime_to_ts(inode, ts);
		break;
	}
}

void nova_shim_get_time(struct inode *inode, int which, s64 *sec, u32 *nsec)
{
	struct timespec64 ts;

	switch (which) {
	case 0:
		ts = inode_get_atime(inode);
		break;
	case 1:
		ts = inode_get_mtime(inode);
		break;
	default:
		ts = inode_get_ctime(inode);
		break;
	}
	*sec = ts.tv_sec;
	*nsec = ts.tv_nsec;
}

void nova_shim_i_size_write(struct inode *inode, loff_t size)
{
	i_size_write(inode, size);
}

bool nova_shim_dir_emit(struct dir_context *ctx, const char *name, int len,
			u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, len, ino, type);
}

bool nova_shim_dir_emit_dots(struct file *file, struct dir_context *ctx)
{
	return dir_emit_dots(file, ctx);
}

struct inode *nova_shim_file_inode(struct file *file)
{
	return file_inode(file);
}

/* ---- procfs: /proc/fs/nova/<dev>/ ---- */

enum { NOVA_PROC_SNAPSHOTS, NOVA_PROC_CREATE, NOVA_PROC_DELETE, NOVA_PROC_STATS,
       NOVA_PROC_CHECK, NOVA_PROC_TRACE, NOVA_PROC_PROF };

static struct proc_dir_entry *nova_proc_root;

static int nova_proc_show(struct seq_file *m, void *v)
{
	long which = (long)m->private;
	struct inode *inode = m->file ? file_inode(m->file) : NULL;

	if (!inode)
		return -EINVAL;
	return nova_rs_proc_show(m, proc_get_parent_data(inode), (int)which);
}

static int nova_proc_open_snapshots(struct inode *inode, struct file *file)
{
	return single_open(file, nova_proc_show, (void *)NOVA_PROC_SNAPSHOTS);
}

static int nova_proc_open_stats(struct inode *inode, struct file *file)
{
	return single_open(file, nova_proc_show, (void *)NOVA_PROC_STATS);
}

static int nova_proc_open_check(struct inode *inode, struct file *file)
{
	return single_open(file, nova_proc_show, (void *)NOVA_PROC_CHECK);
}

static const struct proc_ops nova_proc_check_ops = {
	.proc_open = nova_proc_open_check,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static ssize_t nova_proc_write(struct file *file, const char __user *ubuf,
			       size_t len, loff_t *pos)
{
	char buf[64];
	long which = (long)pde_data(file_inode(file));
	long ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	ret = nova_rs_proc_write(proc_get_parent_data(file_inode(file)),
				 (int)which, buf, len);
	return ret < 0 ? ret : len;
}

static const struct proc_ops nova_proc_snapshots_ops = {
	.proc_open = nova_proc_open_snapshots,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static const struct proc_ops nova_proc_stats_ops = {
	.proc_open = nova_proc_open_stats,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

/* prof: read as text, written like the command files. */
static int nova_proc_open_prof(struct inode *inode, struct file *file)
{
	return single_open(file, nova_proc_show, (void *)NOVA_PROC_PROF);
}

static const struct proc_ops nova_proc_prof_ops = {
	.proc_open = nova_proc_open_prof,
	.proc_read = seq_read,
	.proc_write = nova_proc_write,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static const struct proc_ops nova_proc_write_ops = {
	.proc_write = nova_proc_write,
	.proc_lseek = noop_llseek,
};

/* trace: written like the command files, read as one binary stream. */
static ssize_t nova_proc_trace_read(struct file *file, char __user *ubuf,
				    size_t len, loff_t *pos)
{
	return nova_rs_trace_read(proc_get_parent_data(file_inode(file)), ubuf,
				  len, pos);
}

static const struct proc_ops nova_proc_trace_ops = {
	.proc_read = nova_proc_trace_read,
	.proc_write = nova_proc_write,
	.proc_lseek = default_llseek,
};

int nova_shim_proc_init(void)
{
	nova_proc_root = proc_mkdir("fs/nova", NULL);
	return nova_proc_root ? 0 : -ENOMEM;
}

void nova_shim_proc_exit(void)
{
	remove_proc_subtree("fs/nova", NULL);
	nova_proc_root = NULL;
}

/* Creates /proc/fs/nova/<devname>/ with its files; sbi is their data. */
int nova_shim_proc_add(const char *devname, void *sbi)
{
	struct proc_dir_entry *dir;

	if (!nova_proc_root)
		return -ENOENT;
	dir = proc_mkdir_data(devname, 0555, nova_proc_root, sbi);
	if (!dir)
		return -EEXIST;
	if (!proc_create("snapshots", 0444, dir, &nova_proc_snapshots_ops) ||
	    !proc_create("stats", 0444, dir, &nova_proc_stats_ops) ||
	    !proc_create("check", 0400, dir, &nova_proc_check_ops) ||
	    !proc_create_data("create_snapshot", 0200, dir, &nova_proc_write_ops,
			      (void *)NOVA_PROC_CREATE) ||
	    !proc_create_data("delete_snapshot", 0200, dir, &nova_proc_write_ops,
			      (void *)NOVA_PROC_DELETE) ||
	    !proc_create_data("trace", 0600, dir, &nova_proc_trace_ops,
			      (void *)NOVA_PROC_TRACE) ||
	    !proc_create_data("prof", 0600, dir, &nova_proc_prof_ops,
			      (void *)NOVA_PROC_PROF)) {
		remove_proc_subtree(devname, nova_proc_root);
		return -ENOMEM;
	}
	return 0;
}

void nova_shim_proc_remove(const char *devname)
{
	if (nova_proc_root)
		remove_proc_subtree(devname, nova_proc_root);
}

bool nova_shim_inode_is_new(struct inode *inode)
{
	return inode_state_read_once(inode) & I_NEW;
}

void nova_shim_statfs_fill(struct kstatfs *buf, u64 magic, u64 bsize, u64 blocks,
			  u64 bfree, u64 bavail, u64 files, u64 ffree, u32 namelen)
{
	buf->f_type = magic;
	buf->f_bsize = bsize;
	buf->f_frsize = bsize;
	buf->f_blocks = blocks;
	buf->f_bfree = bfree;
	buf->f_bavail = bavail;
	buf->f_files = files;
	buf->f_ffree = ffree;
	buf->f_namelen = namelen;
}

/* ---- data copies between user buffers and pmem ---- */

/*
 * A cache-flushing copy from a user iterator with page faults disabled
 * (pagefault_disable() is an inline): it stops short at a page that is
 * not present instead of faulting, so it can run under a lock that a
 * fault path waits for (an in-place write holds the fault gate).
 */
size_t nova_shim_copy_from_iter_nofault(void *dst, size_t len, struct iov_iter *i)
{
	size_t n;

	pagefault_disable();
	n = _copy_from_iter_flushcache(dst, len, i);
	pagefault_enable();
	return n;
}

void nova_shim_inode_lock(struct inode *inode, bool shared)
{
	if (shared)
		inode_lock_shared(inode);
	else
		inode_lock(inode);
}

void nova_shim_inode_unlock(struct inode *inode, bool shared)
{
	if (shared)
		inode_unlock_shared(inode);
	else
		inode_unlock(inode);
}

/*
 * The fault gate: write faults pass it shared, taking a snapshot closes it.
 * It also counts the shared writable mappings of the mount, so a snapshot
 * skips the walk over every inode when there are none.
 */
struct nova_gate {
	struct rw_semaphore sem;	/* first: Rust holds &sem */
	atomic_long_t shared_writable;
	/*
	 * The fault gate's: every inode that has had a shared writable
	 * mapping since it was loaded (i_ino -> inode), so that taking a
	 * snapshot walks those, not every cached inode. An inode leaves it
	 * only at eviction (then nothing maps it).
	 */
	struct xarray mapped;
};

static struct nova_gate *nova_gate_of(struct super_block *sb)
{
	return container_of(nova_rs_fault_gate(sb), struct nova_gate, sem);
}

/*
 * kind 0: the fault gate; kind 1: the commit gate (transactions pass it,
 * taking a snapshot or checking closes it). Two init_rwsem() sites, so
 * lockdep sees two lock classes: the commit gate is taken inside the
 * fault gate.
 */
struct rw_semaphore *nova_shim_gate_new(int kind)
{
	struct nova_gate *gate = kzalloc(sizeof(*gate), GFP_KERNEL);

	if (!gate)
		return NULL;
	xa_init(&gate->mapped);
	if (kind == 1)
		init_rwsem(&gate->sem);
	else
		init_rwsem(&gate->sem);
	return &gate->sem;
}

void nova_shim_gate_free(struct rw_semaphore *gate)
{
	struct nova_gate *g = container_of(gate, struct nova_gate, sem);

	xa_destroy(&g->mapped);
	kfree(g);
}

/* At eviction: @inode leaves the set of mapped inodes (if it was in it). */
void nova_shim_forget_mapped(struct inode *inode)
{
	xa_cmpxchg(&nova_gate_of(inode->i_sb)->mapped, inode->i_ino, inode, NULL, 0);
}

/*
 * ---- mmap: DAX faults ----
 *
 * Faults go through dax_iomap_fault() with nova's iomap ops, which ask Rust
 * (nova_rs_iomap_begin) for the block behind a page; a write fault on a
 * hole allocates and logs a zeroed block there before returning. Faults
 * hold the mapping's invalidate_lock shared; whoever replaces or frees
 * blocks of a file holds it exclusive and first breaks the DAX layout of
 * the range (nova_shim_break_layout), so no page table and no pinned page
 * still refers to a block when it is freed.
 */

/*
 * The DAX code counts the mappings of a page that more than one file may
 * map (folio->share, IOMAP_F_SHARED) under each mapping's own xarray
 * lock: two mappings changing the association of one page at once (a
 * fault in one, a removal of entries in the other) could lose an update,
 * and the count would reach zero while a page table still maps the page.
 * nova serialises those changes: a fault that maps a page as shared holds
 * this lock from the end of iomap_begin to iomap_end (the DAX code
 * associates the page in between), and every removal of DAX entries
 * (breaking a layout, eviction of a file with entries) holds it. One
 * lock for all mounts: a snapshot view maps its device's pages beside the
 * live mount.
 */
static DEFINE_MUTEX(nova_dax_share);

static u64 nova_dev_addr(struct block_device *bdev, u64 blk)
{
	return ((u64)get_start_sect(bdev) << SECTOR_SHIFT) + (blk << PAGE_SHIFT);
}

static int nova_iomap_begin(struct inode *inode, loff_t pos, loff_t length,
			    unsigned int flags, struct iomap *iomap,
			    struct iomap *srcmap)
{
	struct block_device *bdev = inode->i_sb->s_bdev;
	u64 blk = 0, pages = 0, src = 0;
	bool shared = false;
	int ret;

	ret = nova_rs_iomap_begin(inode, pos, flags & IOMAP_WRITE, &blk, &pages,
				  &src, &shared);
	if (ret)
		return ret;
	iomap->offset = pos & PAGE_MASK;
	iomap->length = pages << PAGE_SHIFT;
	iomap->bdev = bdev;
	iomap->dax_dev = nova_rs_dax_dev(inode->i_sb);
	iomap->flags = 0;
	if (blk) {
		iomap->type = IOMAP_MAPPED;
		iomap->addr = nova_dev_addr(bdev, blk);
		/*
		 * Another mapping may map these pages too (another file sharing
		 * the blocks, a snapshot view): every mapping of such a page
		 * must be marked shared, whichever faults first.
		 */
		if (shared)
			iomap->flags |= IOMAP_F_SHARED;
	} else {
		iomap->type = IOMAP_HOLE;
		iomap->addr = IOMAP_NULL_ADDR;
	}
	if (src) {
		/*
		 * Copy-on-write of a page a snapshot keeps: nova already copied
		 * and committed the new block; marking the mapping shared makes
		 * the DAX code replace the old page in every page table.
		 */
		iomap->flags |= IOMAP_F_SHARED;
		*srcmap = *iomap;
		srcmap->flags = 0;
		srcmap->addr = nova_dev_addr(bdev, src);
	}
	/* (iomap_end runs only after a mapping of non-zero length.) */
	if ((flags & IOMAP_FAULT) && (iomap->flags & IOMAP_F_SHARED) &&
	    iomap->length)
		mutex_lock(&nova_dax_share);
	return 0;
}

static int nova_iomap_end(struct inode *inode, loff_t pos, loff_t length,
			  ssize_t written, unsigned int flags,
			  struct iomap *iomap)
{
	if ((flags & IOMAP_FAULT) && (iomap->flags & IOMAP_F_SHARED))
		mutex_unlock(&nova_dax_share);
	return 0;
}

static const struct iomap_ops nova_iomap_ops = {
	.iomap_begin = nova_iomap_begin,
	.iomap_end = nova_iomap_end,
};

/* Whether a page of the file may have a DAX entry or be mapped. */
static bool nova_maybe_mapped(struct inode *inode)
{
	return inode->i_mapping->nrpages || mapping_mapped(inode->i_mapping);
}

/* Drops the DAX entries of [start, end] (nothing may map them now). */
static void nova_delete_entries(struct address_space *mapping, loff_t start,
				loff_t end)
{
	mutex_lock(&nova_dax_share);
	dax_delete_mapping_range(mapping, start, end);
	mutex_unlock(&nova_dax_share);
}

static void nova_wait_dax_page(struct inode *inode)
{
	filemap_invalidate_unlock(inode->i_mapping);
	schedule();
	filemap_invalidate_lock(inode->i_mapping);
}

/*
 * dax_break_layout() with the entries dropped under nova_dax_share: with
 * the mapping lock held exclusive, unmaps [start, end] of the file from
 * every process, waits for pages pinned there (DMA, or a page an unmap is
 * still releasing) to be released (or, unless @wait, returns -ERESTARTSYS
 * at the first one) and drops the DAX entries. 0; 1 if it waited, which
 * drops the mapping lock for a while (faults may have mapped pages
 * anywhere in the file meanwhile: ranges broken before must be broken
 * again); or -ERESTARTSYS if a signal interrupted the wait.
 */
static int nova_break_layout(struct inode *inode, loff_t start, loff_t end,
			     bool wait)
{
	struct address_space *mapping = inode->i_mapping;
	struct page *page;
	int ret, waited = 0;

	if (!nova_maybe_mapped(inode) || !dax_mapping(mapping))
		return 0;
	for (;;) {
		page = dax_layout_busy_page_range(mapping, start, end);
		if (!page)
			break;
		if (!wait)
			return -ERESTARTSYS;
		waited = 1;
		ret = ___wait_var_event(page, dax_page_is_idle(page),
					TASK_INTERRUPTIBLE, 0, 0,
					nova_wait_dax_page(inode));
		if (ret)
			return ret;
	}
	nova_delete_entries(mapping, start, end);
	return waited;
}

/* nova_shim_break_layout under the inode's mapping lock alone. */
static int nova_break_layout_one(struct inode *inode, loff_t start, loff_t end)
{
	int ret;

	filemap_invalidate_lock(inode->i_mapping);
	ret = nova_shim_break_layout(inode, start, end);
	filemap_invalidate_unlock(inode->i_mapping);
	return ret < 0 ? ret : 0;
}

/*
 * ---- reflink: FICLONE, FICLONERANGE, FIDEDUPERANGE ----
 *
 * Locks both inodes and both mappings (as write and fallocate do, in the
 * VFS's order for two inodes). Then, before anything is compared or
 * shared, both ranges are written back (the stores made through mappings
 * reach the media: dropping a dirty DAX entry skips its flush) and
 * unmapped, and no fault can map them again while the locks are held: no
 * store lands between a dedupe's comparison and the sharing, none reaches
 * a block once it is shared (the next write fault sees it shared and
 * copies it), and the destination's old blocks are mapped nowhere when
 * they go. A page pinned for I/O is waited for with one mapping lock held
 * at a time (a wait drops and retakes that lock: with both held, two
 * clones the opposite ways would deadlock), then everything starts again.
 * The VFS then checks the ranges and compares a dedupe's bytes (through
 * nova's iomap ops); Rust does the rest (reflink.rs).
 */
loff_t nova_shim_remap_file_range(struct file *file_in, loff_t pos_in,
				  struct file *file_out, loff_t pos_out,
				  loff_t len, unsigned int remap_flags)
{
	struct inode *src = file_inode(file_in);
	struct inode *dst = file_inode(file_out);
	bool dedupe = remap_flags & REMAP_FILE_DEDUP;
	struct timespec64 mtime, ctime;
	loff_t ret, n, send, dstart, dend;
	s64 done;

	if (remap_flags &
	    ~(REMAP_FILE_DEDUP | REMAP_FILE_ADVISORY | REMAP_FILE_CAN_SHORTEN))
		return -EINVAL;
	/* Only from a snapshot view into its live file system (a restore). */
	if (!nova_rs_same_device(src->i_sb, dst->i_sb))
		return -EXDEV;
	if (pos_in < 0 || pos_out < 0 || len < 0)
		return -EINVAL;
	/* The ranges as asked (the checks may shorten them; 0: to EOF). */
	send = len && len <= LLONG_MAX - pos_in ? pos_in + len - 1 : LLONG_MAX;
	dend = len && len <= LLONG_MAX - pos_out ? pos_out + len - 1 : LLONG_MAX;
	lock_two_nondirectories(src, dst);
retry:
	filemap_invalidate_lock_two(src->i_mapping, dst->i_mapping);
	/*
	 * From the page of the old end of file on, when the range starts
	 * past it: that page may be replaced too (reflink.rs).
	 */
	dstart = min_t(loff_t, pos_out, i_size_read(dst) & PAGE_MASK);
	ret = filemap_write_and_wait_range(src->i_mapping, pos_in, send);
	if (!ret)
		ret = filemap_write_and_wait_range(dst->i_mapping, dstart, dend);
	if (!ret)
		ret = nova_break_layout(src, pos_in, send, false);
	if (!ret)
		ret = nova_break_layout(dst, dstart, dend, false);
	if (ret == -ERESTARTSYS) {
		filemap_invalidate_unlock_two(src->i_mapping, dst->i_mapping);
		ret = nova_break_layout_one(src, pos_in, send);
		if (!ret)
			ret = nova_break_layout_one(dst, dstart, dend);
		if (ret)
			goto out_inodes;
		goto retry;
	}
	if (ret)
		goto out;
	/*
	 * The checks end with file_modified(), whose time update would be a
	 * commit of its own before the clone's (a crash between the two
	 * would show the new times with the old data): the times it sets
	 * are not logged and are put back; the clone's commit sets and logs
	 * its own.
	 */
	n = len;
	mtime = inode_get_mtime(dst);
	ctime = inode_get_ctime(dst);
	nova_rs_defer_times(dst, true);
	ret = dax_remap_file_range_prep(file_in, pos_in, file_out, pos_out,
					&n, remap_flags, &nova_iomap_ops);
	nova_rs_defer_times(dst, false);
	inode_set_mtime_to_ts(dst, mtime);
	inode_set_ctime_to_ts(dst, ctime);
	if (ret || n == 0)
		goto out;
	done = nova_rs_remap(src, pos_in, dst, pos_out, n, dedupe);
	ret = done < 0 ? done : n;
out:
	filemap_invalidate_unlock_two(src->i_mapping, dst->i_mapping);
out_inodes:
	unlock_two_nondirectories(src, dst);
	return ret;
}

/*
 * copy_file_range: the aligned part shares blocks as a clone does, also
 * from a snapshot view into the live file system of its device (an
 * instant restore: FICLONE cannot cross mounts); the rest, and anything
 * between other files, is copied.
 */
ssize_t nova_shim_copy_file_range(struct file *file_in, loff_t pos_in,
				  struct file *file_out, loff_t pos_out,
				  size_t len, unsigned int flags)
{
	struct inode *src = file_inode(file_in);
	struct inode *dst = file_inode(file_out);
	loff_t n;

	if (nova_rs_same_device(src->i_sb, dst->i_sb)) {
		n = nova_shim_remap_file_range(file_in, pos_in, file_out, pos_out,
					       min_t(size_t, len, MAX_RW_COUNT),
					       REMAP_FILE_CAN_SHORTEN);
		if (n > 0)
			return n;
	}
	return splice_copy_file_range(file_in, pos_in, file_out, pos_out, len);
}

static vm_fault_t nova_dax_fault(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct inode *inode = file_inode(file);
	struct super_block *sb = inode->i_sb;
	/* A private mapping's write fault copies into an anonymous page. */
	bool write = (vmf->flags & FAULT_FLAG_WRITE) &&
		     (vmf->vma->vm_flags & VM_SHARED);
	unsigned long pfn;
	vm_fault_t ret;

	struct rw_semaphore *gate = nova_rs_fault_gate(sb);

	if (write) {
		sb_start_pagefault(sb);
		file_update_time(file);
		/* Closed while a snapshot is being taken. */
		down_read(gate);
	}
	filemap_invalidate_lock_shared(inode->i_mapping);
	ret = dax_iomap_fault(vmf, 0, &pfn, NULL, &nova_iomap_ops);
	/* nova's metadata is durable before iomap_begin returns. */
	if (ret & VM_FAULT_NEEDDSYNC)
		ret = dax_finish_sync_fault(vmf, 0, pfn);
	filemap_invalidate_unlock_shared(inode->i_mapping);
	if (write) {
		up_read(gate);
		sb_end_pagefault(sb);
	}
	return ret;
}

static void nova_vma_count(struct vm_area_struct *vma, long delta)
{
	if (vma_is_shared_maywrite(vma))
		atomic_long_add(delta,
				&nova_gate_of(file_inode(vma->vm_file)->i_sb)->shared_writable);
}

static void nova_vma_open(struct vm_area_struct *vma)
{
	nova_vma_count(vma, 1);
}

static void nova_vma_close(struct vm_area_struct *vma)
{
	nova_vma_count(vma, -1);
}

static const struct vm_operations_struct nova_dax_vm_ops = {
	.open = nova_vma_open,
	.close = nova_vma_close,
	.fault = nova_dax_fault,
	.page_mkwrite = nova_dax_fault,
	.pfn_mkwrite = nova_dax_fault,
};

int nova_shim_mmap_prepare(struct vm_area_desc *desc)
{
	struct inode *inode = file_inode(desc->file);

	if (!daxdev_mapping_supported(desc, inode, nova_rs_dax_dev(inode->i_sb)))
		return -EOPNOTSUPP;
	if (is_shared_maywrite(&desc->vma_flags)) {
		/*
		 * Registered before the mapping exists (a copy of this VMA,
		 * at fork or split, maps the same inode: already registered).
		 */
		int err = xa_insert(&nova_gate_of(inode->i_sb)->mapped, inode->i_ino, inode,
				    GFP_KERNEL);

		if (err && err != -EBUSY)
			return err;
	}
	file_accessed(desc->file);
	desc->vm_ops = &nova_dax_vm_ops;
	/* The first VMA gets no ->open; its ->close balances this. */
	if (is_shared_maywrite(&desc->vma_flags))
		atomic_long_inc(&nova_gate_of(inode->i_sb)->shared_writable);
	return 0;
}

/* msync/fsync: write back (flush from the CPU cache) dirty DAX pages. */
static int nova_dax_writepages(struct address_space *mapping,
			       struct writeback_control *wbc)
{
	return dax_writeback_mapping_range(mapping,
					   nova_rs_dax_dev(mapping->host->i_sb),
					   wbc);
}

static const struct address_space_operations nova_dax_aops = {
	.writepages = nova_dax_writepages,
	.dirty_folio = noop_dirty_folio,
	/* O_DIRECT opens are allowed: on DAX, direct I/O is the DAX path. */
	.direct_IO = noop_direct_IO,
};

/* A regular file: served from pmem by DAX. */
void nova_shim_set_dax(struct inode *inode)
{
	inode->i_flags |= S_DAX;
	inode->i_mapping->a_ops = &nova_dax_aops;
}

void nova_shim_mapping_lock(struct inode *inode)
{
	filemap_invalidate_lock(inode->i_mapping);
}

void nova_shim_mapping_unlock(struct inode *inode)
{
	filemap_invalidate_unlock(inode->i_mapping);
}

/*
 * With the mapping lock held exclusive: unmaps [start, end] of the file
 * from every process, waits for pinned pages (DMA) there to be released,
 * and drops the DAX entries. Afterwards the blocks behind the range may be
 * replaced or freed. 0; 1 if the wait dropped the mapping lock (ranges
 * broken before under the same hold must be broken again: kfile.rs); or
 * -ERESTARTSYS if a signal interrupted the wait.
 */
int nova_shim_break_layout(struct inode *inode, u64 start, u64 end)
{
	return nova_break_layout(inode, start, min_t(u64, end, LLONG_MAX), true);
}

/*
 * Eviction: waits until no page of the file is pinned, then drops every
 * DAX entry and the rest of the page cache (dax_break_layout_final() and
 * truncate_inode_pages_final(), the entries dropped under nova_dax_share).
 * An inode with no entry takes no lock: eviction from memory reclaim sees
 * only such inodes (the inode LRU keeps inodes with pages), and faults
 * allocate page tables while they hold nova_dax_share.
 */
void nova_shim_evict_pages(struct inode *inode)
{
	struct address_space *mapping = inode->i_mapping;
	struct page *page;

	if (dax_mapping(mapping) && mapping->nrpages) {
		while ((page = dax_layout_busy_page_range(mapping, 0, LLONG_MAX)))
			___wait_var_event(page, dax_page_is_idle(page),
					  TASK_UNINTERRUPTIBLE, 0, 0, schedule());
		nova_delete_entries(mapping, 0, LLONG_MAX);
	}
	truncate_inode_pages_final(&inode->i_data);
}

/* FS_IOC_GETFLAGS/FS_IOC_FSGETXATTR: @flags (FS_*_FL) in both forms. */
void nova_shim_fileattr_fill(struct file_kattr *fa, u32 flags)
{
	fileattr_fill_flags(fa, flags);
}

/*
 * The FS_*_FL flags a FS_IOC_SETFLAGS or FS_IOC_FSSETXATTR asks for;
 * -EOPNOTSUPP if it sets anything those flags cannot say (extent size,
 * project, other xflags).
 */
int nova_shim_fileattr_flags(const struct file_kattr *fa, u32 *flags)
{
	if (fileattr_has_fsx(fa))
		return -EOPNOTSUPP;
	*flags = fa->flags;
	return 0;
}

/*
 * Whether an eviction may log (an inode's access time): not from memory
 * reclaim (a shrinker can run inside any allocation, with nova's locks
 * held) and not while the file system is frozen.
 */
bool nova_shim_may_log_in_evict(struct super_block *sb)
{
	return !(current->flags & PF_MEMALLOC) &&
	       sb->s_writers.frozen == SB_UNFROZEN;
}

/* The inode flags the VFS enforces, from FS_*_FL flags. */
void nova_shim_set_inode_flags(struct inode *inode, u32 fs_flags)
{
	unsigned int f = 0;

	if (fs_flags & FS_IMMUTABLE_FL)
		f |= S_IMMUTABLE;
	if (fs_flags & FS_APPEND_FL)
		f |= S_APPEND;
	if (fs_flags & FS_NOATIME_FL)
		f |= S_NOATIME;
	inode_set_flags(inode, f, S_IMMUTABLE | S_APPEND | S_NOATIME);
}

/*
 * Drops the page tables of every shared writable mapping of every file on
 * @sb, so that the next store through any of them faults (and copies the
 * page if a snapshot holds its block). Walks only the inodes that have
 * had such a mapping (nova_gate.mapped), not every cached inode. Returns
 * how many it looked at (for the stats), or a negative errno.
 *
 * @mode NOVA_UNMAP_SHUTDOWN: only that.
 *
 * NOVA_UNMAP_PREPARE (a snapshot, before it closes the fault gate): also
 * writes back the stores made through those mappings (the CPU cache lines
 * of dirty DAX entries flushed, as msync does; also of mappings gone since)
 * and waits (a while) for pages pinned for I/O (O_DIRECT into a mapped
 * buffer) to be released, as dax_break_layout does before a truncate. The
 * wait happens with the gate open: a pin may be held by a task whose next
 * fault needs the gate. -ERESTARTSYS if a signal ends it.
 *
 * NOVA_UNMAP_GATED (the snapshot, with the fault gate closed, so no write
 * fault runs): unmaps and writes back again, and checks without waiting
 * that no page is pinned: -EBUSY if one is (the snapshot opens the gate
 * and starts over), so no pending DMA stores into a block the snapshot
 * keeps.
 */
long nova_shim_unmap_all(struct super_block *sb, int mode)
{
	struct nova_gate *g = nova_gate_of(sb);
	struct writeback_control wbc = {
		.sync_mode = WB_SYNC_ALL,
		.nr_to_write = LONG_MAX,
		.range_start = 0,
		.range_end = LLONG_MAX,
	};
	struct inode *inode;
	unsigned long ino;
	long seen = 0;
	int err = 0;

	if (mode == NOVA_UNMAP_SHUTDOWN &&
	    !atomic_long_read(&g->shared_writable))
		return 0;

	/*
	 * Eviction removes an inode under the xarray's lock after setting
	 * I_FREEING: while the lock is held, an entry is a live inode that
	 * igrab() either pins or refuses.
	 */
	xa_lock(&g->mapped);
	xa_for_each(&g->mapped, ino, inode) {
		struct address_space *m;

		if (!igrab(inode))
			continue;
		xa_unlock(&g->mapped);
		seen++;
		m = inode->i_mapping;
		if (mapping_writably_mapped(m))
			unmap_mapping_range(m, 0, 0, 0);
		if (mode != NOVA_UNMAP_SHUTDOWN)
			err = dax_writeback_mapping_range(m, nova_rs_dax_dev(sb),
							  &wbc);
		if (!err && mode == NOVA_UNMAP_PREPARE) {
			int tries;

			/*
			 * A bounded wait (at most about 100 ms per file): a task
			 * that pins pages again and again would keep an
			 * unbounded one waiting for ever.
			 */
			filemap_invalidate_lock(m);
			for (tries = 0; tries < 100; tries++) {
				if (!dax_layout_busy_page_range(m, 0, LLONG_MAX))
					break;
				filemap_invalidate_unlock(m);
				if (msleep_interruptible(1)) {
					err = -ERESTARTSYS;
					filemap_invalidate_lock(m);
					break;
				}
				filemap_invalidate_lock(m);
			}
			filemap_invalidate_unlock(m);
		} else if (!err && mode == NOVA_UNMAP_GATED) {
			filemap_invalidate_lock(m);
			if (dax_layout_busy_page_range(m, 0, LLONG_MAX))
				err = -EBUSY;
			filemap_invalidate_unlock(m);
		}
		iput(inode);
		if (err)
			return err;
		cond_resched();
		xa_lock(&g->mapped);
	}
	xa_unlock(&g->mapped);
	return seen;
}

/*
 * ---- the snapshot cleaner: a kthread per writable mount ----
 *
 * It sleeps until woken (a snapshot was deleted and left items no snapshot
 * needs), then calls nova_rs_clean() to free them. Stopped at unmount.
 */
int nova_rs_clean(void *sbi);

struct nova_cleaner {
	struct task_struct *task;
	wait_queue_head_t wq;
	atomic_t pending;
	void *sbi;
};

static int nova_cleaner_fn(void *data)
{
	struct nova_cleaner *c = data;

	while (!kthread_should_stop()) {
		wait_event_interruptible(c->wq, atomic_read(&c->pending) ||
						kthread_should_stop());
		if (atomic_xchg(&c->pending, 0))
			nova_rs_clean(c->sbi);
	}
	return 0;
}

struct nova_cleaner *nova_shim_cleaner_start(void *sbi, const char *devname)
{
	struct nova_cleaner *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	init_waitqueue_head(&c->wq);
	c->sbi = sbi;
	c->task = kthread_run(nova_cleaner_fn, c, "nova_cln/%s", devname);
	if (IS_ERR(c->task)) {
		kfree(c);
		return NULL;
	}
	return c;
}

void nova_shim_cleaner_wake(struct nova_cleaner *c)
{
	atomic_set(&c->pending, 1);
	wake_up(&c->wq);
}

void nova_shim_cleaner_stop(struct nova_cleaner *c)
{
	kthread_stop(c->task);
	kfree(c);
}

/* ---- FIEMAP (linux/fiemap.h is not in the bindings) ---- */

int nova_shim_fiemap_prep(struct inode *inode, struct fiemap_extent_info *fi,
			  u64 start, u64 *len)
{
	return fiemap_prep(inode, fi, start, len, FIEMAP_FLAG_SYNC);
}

int nova_shim_fiemap_fill(struct fiemap_extent_info *fi, u64 logical,
			  u64 phys, u64 len, u32 flags)
{
	return fiemap_fill_next_extent(fi, logical, phys, len, flags);
}

/* ---- POSIX ACLs (linux/posix_acl*.h is not in the bindings) ---- */

/*
 * An ACL from its stored form (the posix_acl_xattr form, ids of the
 * initial user namespace), checked as setfacl's are; NULL for an empty
 * one, an ERR_PTR if it is malformed.
 */
struct posix_acl *nova_shim_acl_from_value(const void *value, size_t size)
{
	struct posix_acl *acl = posix_acl_from_xattr(&init_user_ns, value, size);
	int err;

	if (IS_ERR_OR_NULL(acl))
		return acl;
	err = posix_acl_valid(&init_user_ns, acl);
	if (err) {
		posix_acl_release(acl);
		return ERR_PTR(err);
	}
	return acl;
}

size_t nova_shim_acl_value_len(const struct posix_acl *acl)
{
	return posix_acl_xattr_size(acl->a_count);
}

/* The stored form of @acl into @buf (@size bytes: the length above). */
int nova_shim_acl_to_value(const struct posix_acl *acl, void *buf, size_t size)
{
	size_t n;
	void *v = posix_acl_to_xattr(&init_user_ns, acl, &n, GFP_KERNEL);

	if (!v)
		return -ENOMEM;
	if (n != size) {
		kfree(v);
		return -EINVAL;
	}
	memcpy(buf, v, n);
	kfree(v);
	return 0;
}

struct posix_acl *nova_shim_acl_dup(struct posix_acl *acl)
{
	return posix_acl_dup(acl);
}

void nova_shim_acl_release(struct posix_acl *acl)
{
	posix_acl_release(acl);
}

struct posix_acl *nova_shim_get_inode_acl(struct inode *inode, int type)
{
	return get_inode_acl(inode, type);
}

void nova_shim_set_cached_acl(struct inode *inode, int type, struct posix_acl *acl)
{
	set_cached_acl(inode, type, acl);
}

int nova_shim_acl_chmod(struct posix_acl **acl, umode_t mode)
{
	return __posix_acl_chmod(acl, GFP_KERNEL, mode);
}

int nova_shim_acl_create(struct inode *dir, umode_t *mode,
			 struct posix_acl **dflt, struct posix_acl **acl)
{
	return posix_acl_create(dir, mode, dflt, acl);
}

int nova_shim_acl_update_mode(struct inode *inode, umode_t *mode,
			      struct posix_acl **acl)
{
	return posix_acl_update_mode(&nop_mnt_idmap, inode, mode, acl);
}
