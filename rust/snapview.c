// SPDX-License-Identifier: GPL-2.0
/*
 * nova's C glue for snapshot views: their own super blocks beside the
 * device's live one (nova_get_tree_view, called by shim.c's get_tree), and
 * the /<mnt>/.snapshots directory whose entries automount them. The logic
 * they ask for is in Rust (rust/vfs_snapdir.rs, rust/devshare.rs).
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/namei.h>
#include <linux/mount.h>
#include <linux/blkdev.h>
#include <linux/dcache.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

/* Rust entry points (rust/fstype.rs, rust/vfs_snapdir.rs). */
int nova_rs_fill_super(struct super_block *sb, void *opts);
void nova_rs_opts_set_dev(void *opts, u32 dev);
int nova_rs_snapdir_next(struct super_block *sb, u64 from, u64 *epoch, char *tag);
int nova_rs_snapdir_find(struct super_block *sb, const char *name, u32 len,
			 u64 *epoch, u64 *gen);
u64 nova_rs_snapdir_gen(struct super_block *sb);
void nova_rs_opts_submount(void *opts, u64 epoch, u32 dev);

/* Called by shim.c and Rust. */
int nova_get_tree_view(struct fs_context *fc, u64 epoch, dev_t dev);
bool nova_shim_view_detach(struct super_block *sb, struct file **bf);
void nova_shim_bdev_name(struct super_block *sb, char *buf, size_t len);
void nova_shim_fput(struct file *f);
void nova_shim_snap_expire_now(void);
void nova_shim_snap_exit(void);
void nova_shim_set_d_op(struct super_block *sb);
struct dentry *nova_shim_snapdir_lookup(struct inode *root,
					struct dentry *dentry);
void nova_shim_snapdir_changed(struct super_block *sb);
bool nova_shim_snapdir_evict(struct inode *inode);

/* ---- snapshot views ---- */

/*
 * A snapshot view (-o snapshot=E, or a .snapshots/E automount) has a super
 * block of its own, beside the device's live one: an anonymous device
 * number (its own st_dev), the block device opened read-only and shared,
 * and the DAX device mapped without claiming it. Two mounts of the same
 * snapshot of a device share one view; sget_fc finds it by a key kept in
 * s_id ("nova:MAJOR:MINOR@E"; a live super block's s_id is the device's
 * name; set once sget_fc has made the super block: two mounts of one
 * snapshot racing may still make two views of it, each correct).
 */
static int nova_view_test(struct super_block *sb, struct fs_context *fc)
{
	return !strcmp(sb->s_id, fc->sget_key);
}

int nova_get_tree_view(struct fs_context *fc, u64 epoch, dev_t dev)
{
	char key[sizeof(((struct super_block *)NULL)->s_id)];
	struct super_block *sb;
	struct file *bf;
	int err;

	if (!dev) {
		if (!fc->source)
			return invalf(fc, "nova: no device given");
		err = lookup_bdev(fc->source, &dev);
		if (err)
			return invalf(fc, "nova: %s: not a block device", fc->source);
		nova_rs_opts_set_dev(fc->fs_private, dev);
	}
	/* At most 2 + 8 + 1 + 16 characters: fits s_id. */
	snprintf(key, sizeof(key), "nv%x@%llx", (u32)dev, epoch);
	fc->sb_flags |= SB_RDONLY;
	fc->sget_key = key;
	sb = sget_fc(fc, nova_view_test, set_anon_super_fc);
	fc->sget_key = NULL;
	if (IS_ERR(sb))
		return PTR_ERR(sb);
	if (!sb->s_root) {
		strscpy(sb->s_id, key, sizeof(sb->s_id));
		bf = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
		if (IS_ERR(bf)) {
			deactivate_locked_super(sb);
			return PTR_ERR(bf);
		}
		/* Put by nova_shim_view_detach at kill_sb, not by the VFS. */
		sb->s_bdev_file = bf;
		sb->s_bdev = file_bdev(bf);
		err = nova_rs_fill_super(sb, fc->fs_private);
		if (err) {
			deactivate_locked_super(sb);
			return err;
		}
		sb->s_flags |= SB_ACTIVE;
	}
	fc->root = dget(sb->s_root);
	return 0;
}

/*
 * For kill_sb: whether sb is a snapshot view; if it is, takes its block
 * device file (to put with nova_shim_fput once the Sbi is gone).
 */
bool nova_shim_view_detach(struct super_block *sb, struct file **bf)
{
	*bf = NULL;
	if (MAJOR(sb->s_dev) != 0)
		return false;
	*bf = sb->s_bdev_file;
	sb->s_bdev_file = NULL;
	return true;
}

/* The name of sb's block device ("pmem0") into buf. */
void nova_shim_bdev_name(struct super_block *sb, char *buf, size_t len)
{
	snprintf(buf, len, "%pg", sb->s_bdev);
}

void nova_shim_fput(struct file *f)
{
	if (f)
		fput(f);
}

/* ---- .snapshots: the snapshots inside the live mount ---- */

/*
 * /<mnt>/.snapshots is a directory made up in memory: one automount point
 * per live snapshot (named by its epoch) and a symlink "tag -> epoch" per
 * tagged one. Entering "E" mounts snapshot E's view there (its own super
 * block, nova_get_tree_view), read-only, shrinkable and expirable: idle
 * views are unmounted after NOVA_SNAP_EXPIRE seconds, when the live mount
 * is unmounted, and before a delete_snapshot of theirs.
 *
 * Inode numbers: .snapshots is NOVA_SNAPDIR_INO, E is NOVA_SNAPDIR_INO | E
 * and its tag NOVA_SNAPDIR_INO | NOVA_SNAPDIR_TAG | E, all past nova's own
 * numbers. These inodes have no slot or log (nova_shim_snapdir_evict).
 */
#define NOVA_SNAPDIR_INO (1ULL << 63)
#define NOVA_SNAPDIR_TAG (1ULL << 62)
#define NOVA_SNAP_EXPIRE 120

static LIST_HEAD(nova_snap_mounts);
static void nova_snap_expire(struct work_struct *work);
static DECLARE_DELAYED_WORK(nova_snap_expire_work, nova_snap_expire);

static void nova_snap_expire(struct work_struct *work)
{
	mark_mounts_for_expiry(&nova_snap_mounts);
	if (!list_empty(&nova_snap_mounts))
		schedule_delayed_work(&nova_snap_expire_work,
				      NOVA_SNAP_EXPIRE * HZ);
}

static void nova_snap_expire_now_fn(struct work_struct *work)
{
	/* Two passes: the first marks, the second unmounts the unused. */
	mark_mounts_for_expiry(&nova_snap_mounts);
	mark_mounts_for_expiry(&nova_snap_mounts);
}

/*
 * Unmounts every .snapshots view nobody uses (from a worker: the last
 * reference of a mount is put by a kernel thread's delayed work, not at
 * this task's return to user space, so the caller can wait for it).
 */
void nova_shim_snap_expire_now(void)
{
	struct work_struct w;

	INIT_WORK_ONSTACK(&w, nova_snap_expire_now_fn);
	schedule_work(&w);
	flush_work(&w);
	destroy_work_on_stack(&w);
}

void nova_shim_snap_exit(void)
{
	cancel_delayed_work_sync(&nova_snap_expire_work);
}

static struct vfsmount *nova_snap_automount(struct path *path)
{
	struct dentry *d = path->dentry;
	struct super_block *sb = d->d_sb;
	u64 epoch = d_inode(d)->i_ino & ~NOVA_SNAPDIR_INO;
	struct fs_context *fc;
	struct vfsmount *mnt;
	char *src;
	int err;

	fc = fs_context_for_submount(sb->s_type, d);
	if (IS_ERR(fc))
		return ERR_CAST(fc);
	nova_rs_opts_submount(fc->fs_private, epoch, sb->s_bdev->bd_dev);
	fc->sb_flags |= SB_RDONLY;
	src = kasprintf(GFP_KERNEL, "/dev/%pg", sb->s_bdev);
	err = src ? vfs_parse_fs_string(fc, "source", src) : -ENOMEM;
	kfree(src);
	if (err) {
		mnt = ERR_PTR(err);
		goto out;
	}
	mnt = fc_mount(fc);
	if (IS_ERR(mnt))
		goto out;
	mnt_set_expiry(mnt, &nova_snap_mounts);
	schedule_delayed_work(&nova_snap_expire_work, NOVA_SNAP_EXPIRE * HZ);
out:
	put_fs_context(fc);
	return mnt;
}

static const struct dentry_operations nova_dops = {
	.d_automount = nova_snap_automount,
};

/* The live super block's dentries may be automount points. */
void nova_shim_set_d_op(struct super_block *sb)
{
	set_default_d_op(sb, &nova_dops);
}

/* Nothing of .snapshots can be changed (it is made from the snapshots). */
static int nova_snap_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
			     struct iattr *attr)
{
	return -EPERM;
}

/* An automount point: no lookup (DCACHE_AUTODIR_TYPE). */
static const struct inode_operations nova_snap_point_iops = {
	.setattr = nova_snap_setattr,
};

static const struct inode_operations nova_snap_tag_iops = {
	.get_link = simple_get_link,
	.setattr = nova_snap_setattr,
};

static struct inode *nova_snap_inode(struct super_block *sb, u64 ino,
				     umode_t mode)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_ino = ino;
	inode->i_mode = mode;
	/* No extended attributes: nova's handlers need a log. */
	inode->i_opflags &= ~IOP_XATTR;
	simple_inode_init_ts(inode);
	return inode;
}

static const struct inode_operations nova_snapdir_iops;
static const struct file_operations nova_snapdir_fops;

static struct dentry *nova_snapdir_child(struct inode *dir,
					 struct dentry *dentry,
					 unsigned int flags)
{
	struct inode *inode = NULL;
	struct dentry *ret;
	char buf[24];
	u64 epoch, gen;
	int kind;

	kind = nova_rs_snapdir_find(dir->i_sb, dentry->d_name.name,
				    dentry->d_name.len, &epoch, &gen);
	if (kind == 1) {
		inode = nova_snap_inode(dir->i_sb, NOVA_SNAPDIR_INO | epoch,
					S_IFDIR | 0555);
		if (IS_ERR(inode))
			return ERR_CAST(inode);
		inode->i_op = &nova_snap_point_iops;
		inode->i_fop = &simple_dir_operations;
		inode->i_flags |= S_AUTOMOUNT;
		set_nlink(inode, 2);
	} else if (kind == 2) {
		char *link;

		snprintf(buf, sizeof(buf), "%llu", epoch);
		link = kstrdup(buf, GFP_KERNEL);
		if (!link)
			return ERR_PTR(-ENOMEM);
		inode = nova_snap_inode(dir->i_sb, NOVA_SNAPDIR_INO |
					NOVA_SNAPDIR_TAG | epoch,
					S_IFLNK | 0777);
		if (IS_ERR(inode)) {
			kfree(link);
			return ERR_CAST(inode);
		}
		inode->i_op = &nova_snap_tag_iops;
		inode->i_link = link;
		inode->i_size = strlen(link);
	} else if (kind < 0) {
		return ERR_PTR(kind);
	}
	/*
	 * Dropped when snapshots change (nova_shim_snapdir_changed); a
	 * change since the answer above (which that may have missed) keeps
	 * this one out of the cache.
	 */
	ret = d_splice_alias(inode, dentry);
	if (!IS_ERR(ret) && nova_rs_snapdir_gen(dir->i_sb) != gen)
		d_drop(ret ? ret : dentry);
	return ret;
}

static int nova_snapdir_iterate(struct file *file, struct dir_context *ctx)
{
	struct super_block *sb = file_inode(file)->i_sb;
	char tag[33], name[24];
	u64 epoch;

	if (!dir_emit_dots(file, ctx))
		return 0;
	/*
	 * Positions: 2 + 2E for snapshot E, 3 + 2E for its tag, so a
	 * deletion between two reads skips nothing that is still there.
	 */
	while (!nova_rs_snapdir_next(sb, (ctx->pos - 2) / 2, &epoch, tag)) {
		if (ctx->pos < 2 + 2 * (loff_t)epoch)
			ctx->pos = 2 + 2 * (loff_t)epoch;
		if (ctx->pos == 2 + 2 * (loff_t)epoch) {
			int n = snprintf(name, sizeof(name), "%llu", epoch);

			if (!dir_emit(ctx, name, n, NOVA_SNAPDIR_INO | epoch,
				      DT_DIR))
				return 0;
			ctx->pos++;
		}
		if (tag[0] &&
		    !dir_emit(ctx, tag, strlen(tag),
			      NOVA_SNAPDIR_INO | NOVA_SNAPDIR_TAG | epoch,
			      DT_LNK))
			return 0;
		ctx->pos++;
	}
	return 0;
}

static const struct inode_operations nova_snapdir_iops = {
	.lookup = nova_snapdir_child,
	.setattr = nova_snap_setattr,
};

static const struct file_operations nova_snapdir_fops = {
	.llseek = generic_file_llseek,
	.read = generic_read_dir,
	.iterate_shared = nova_snapdir_iterate,
};

/* The root's lookup of ".snapshots" (a live, not a snapshot, mount). */
struct dentry *nova_shim_snapdir_lookup(struct inode *root,
					struct dentry *dentry)
{
	struct inode *inode = nova_snap_inode(root->i_sb, NOVA_SNAPDIR_INO,
					      S_IFDIR | 0555);

	if (IS_ERR(inode))
		return ERR_CAST(inode);
	inode->i_op = &nova_snapdir_iops;
	inode->i_fop = &nova_snapdir_fops;
	set_nlink(inode, 1);	/* its subdirectories are not counted */
	return d_splice_alias(inode, dentry);
}

/*
 * A snapshot was taken or deleted: the unused names cached under
 * .snapshots (a deleted epoch, or a negative entry for a new one) go.
 */
void nova_shim_snapdir_changed(struct super_block *sb)
{
	struct dentry *d;
	struct qstr name = QSTR_INIT(".snapshots", 10);

	if (!sb->s_root)
		return;
	d = try_lookup_noperm(&name, sb->s_root);
	if (IS_ERR_OR_NULL(d))
		return;
	shrink_dcache_parent(d);
	dput(d);
}

/* Eviction of a .snapshots inode: nothing of it is on pmem. */
bool nova_shim_snapdir_evict(struct inode *inode)
{
	if (!(inode->i_ino & NOVA_SNAPDIR_INO))
		return false;
	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (S_ISLNK(inode->i_mode)) {
		kfree(inode->i_link);
		inode->i_link = NULL;
	}
	return true;
}
