#!/usr/bin/env node
'use strict'
// Rebuilds fuse-native from its C source with our patches, so that node-gyp-build loads
// build/Release/fuse.node instead of the published prebuild.
//
// 1. utimens. Without these `cp -a`, `tar x` and `rsync -a` through a mount cannot set modification times:
//    - fuse-native 2.2.6 passes the access time in place of the modification time (its C glue converts
//      l->atime twice). Known upstream (sagemathinc/fuse-native issue 3, also in the @cocalc fork), unfixed.
//    - libfuse 2.9 calls utimens() only when both times are set, unless the file system declares that it
//      takes utimensat's UTIME_OMIT and UTIME_NOW (fuse.h flag_utime_omit_ok): `tar x` sets the mtime alone
//      (atime UTIME_OMIT), `touch -m` too. So the flag is set, and since fuse-native would turn those
//      tv_nsec markers into a bogus 1.073 s, UTIME_NOW becomes the current time and UTIME_OMIT the largest
//      uint64, which src/fuse reads as "unchanged".
// 2. The request context. fuse-native gives the JavaScript callbacks no caller, so files created through a
//    mount would belong to the daemon's user whoever made them. Each libfuse thread records its request's
//    uid, gid and pid (fuse_get_context(), valid only on that thread) before handing the request to the
//    JavaScript thread; `fuse_native_caller()` returns them while that callback runs (src/fuse/binding.ts).
// 3. One file behind every hard link. libfuse 2's path API gives each name its own kernel inode, each
//    caching attributes for attr_timeout: after `echo y >> g`, a hard link f showed the old size for up to a
//    second. libfuse 2 has no per-entry timeout and no path-to-node-id lookup, so this wraps its replies
//    to lookups and creates (fuse_reply_entry, fuse_reply_create; defined here, they come first in the
//    search order of the libraries this addon loads, and call libfuse's own through RTLD_NEXT) to learn
//    which kernel inodes (node ids) show which of our inode numbers; `fuse_native_invalidate(thread, ino)`
//    then has the kernel drop the cached attributes of all of them (fuse_lowlevel_notify_inval_inode with
//    a negative offset: attributes only, no page locks, so it cannot wait on a request we serve).
// 4. Lookups of listed entries. libfuse 2 has no readdirplus: after a listing the kernel looks up every
//    entry again (ls -l, tar), and each lookup crossed to the JavaScript thread and back. The addon keeps
//    the attributes of the entries of the listings it answers and answers getattr from them on the libfuse
//    thread; every request that may change attributes empties them (before and after it runs), a listing
//    begun before such a change keeps nothing, and `fuse_native_forget_attributes(thread)` empties them
//    after changes made otherwise (a commit).
//
// Run by npm after install (package.json "postinstall"); needs a C compiler, make, python3 and Node's
// headers, which scripts/setup.sh installs. Idempotent: each patch carries a mark, patches already in the
// source are not applied again, and a patched, built copy is left alone. A source that differs from what
// a patch expects is refused, never guessed at.
//
// On Linux a failed build fails the install: without the fixes, `cp -a` through a mount records wrong
// times. On macOS it is tried against the osxfuse headers fuse-native bundles (never tested here: no
// Mac runs our CI); if it fails, fuse-native's own prebuilt addon stays in use, with a warning, rather
// than failing the install.
const fs = require('node:fs')
const path = require('node:path')
const { rebuild } = require('./node-gyp')

const pkg = path.dirname(require.resolve('fuse-native/package.json'))
const source = path.join(pkg, 'fuse-native.c')

const PATCHES = [{
  mark: '/* isomount: utimens fixes */',
  edits: [
    ['  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)', '  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)'],
    ['  l->atime = timespec_to_uint64(&tv[0]);\n  l->mtime = timespec_to_uint64(&tv[1]);',
      '  l->atime = utimens_time(&tv[0]);\n  l->mtime = utimens_time(&tv[1]);'],
    ['  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;',
      '  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;\n  ops.flag_utime_omit_ok = 1;'],
    ['static void populate_stat (', `/* isomount: utimens fixes */
static uint64_t utimens_time (const struct timespec* ts) {
  if (ts->tv_nsec == UTIME_OMIT) return UINT64_MAX;
  if (ts->tv_nsec == UTIME_NOW) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return timespec_to_uint64(&now);
  }
  return timespec_to_uint64(ts);
}

static void populate_stat (`]
  ]
}, {
  mark: '/* isomount: request context and kernel inodes */',
  edits: [
    // RTLD_NEXT (dlfcn.h) is a GNU extension, declared only when asked for before the first header.
    ['#define FUSE_USE_VERSION 29\n', '#define _GNU_SOURCE\n#define FUSE_USE_VERSION 29\n#include <dlfcn.h>\n'],
    ['  size_t mtime;\n  int32_t res;\n', '  size_t mtime;\n  int32_t res;\n  uid_t caller_uid;\n  gid_t caller_gid;\n  pid_t caller_pid;\n'],
    ['  uv_sem_t sem;\n} fuse_thread_t;', '  uv_sem_t sem;\n  void *isomount_names;\n} fuse_thread_t;'],
    ['  fuse_thread_locals_t *l = get_thread_locals();\\\n',
      '  fuse_thread_locals_t *l = get_thread_locals();\\\n  isomount_record_caller(l);\\\n'],
    ['  fn(handle, l, ft);\n', '  isomount_current = l;\n  fn(handle, l, ft);\n  isomount_current = NULL;\n'],
    ['  ft->ch = ch;\n', '  ft->ch = ch;\n  ft->isomount_names = isomount_names_new(ch);\n'],
    ['  fuse_loop_mt(ft->fuse);\n', '  fuse_loop_mt(ft->fuse);\n  isomount_names_close(ft->isomount_names);\n'],
    ['  NAPI_EXPORT_FUNCTION(fuse_native_unmount)\n',
      '  NAPI_EXPORT_FUNCTION(fuse_native_unmount)\n  NAPI_EXPORT_FUNCTION(fuse_native_caller)\n  NAPI_EXPORT_FUNCTION(fuse_native_invalidate)\n'],
    ['static void populate_stat (', `/* isomount: request context and kernel inodes */
static fuse_thread_locals_t *isomount_current = NULL;

static void isomount_record_caller (fuse_thread_locals_t *l) {
  struct fuse_context *c = fuse_get_context();
  l->caller_uid = c->uid;
  l->caller_gid = c->gid;
  l->caller_pid = c->pid;
}

NAPI_METHOD(fuse_native_caller) {
  napi_value result;
  if (isomount_current == NULL) {
    napi_get_undefined(env, &result);
    return result;
  }
  uint32_t ids[3] = { isomount_current->caller_uid, isomount_current->caller_gid, (uint32_t) isomount_current->caller_pid };
  napi_create_array_with_length(env, 3, &result);
  for (uint32_t i = 0; i < 3; i++) {
    napi_value id;
    napi_create_uint32(env, ids[i], &id);
    napi_set_element(env, result, i, id);
  }
  return result;
}

// Kernel inodes by our inode number: open addressing on the inode number, a few node ids each (a file has
// one kernel inode per name looked up; more than ISOMOUNT_NAMES names replace the oldest).
#define ISOMOUNT_NAMES 4
typedef struct {
  uint32_t ino;
  uint32_t next;
  uint64_t nodeids[ISOMOUNT_NAMES];
} isomount_inode_t;

typedef struct {
  pthread_mutex_t lock;
  struct fuse_chan *ch;
  int closed;
  size_t capacity;
  size_t used;
  isomount_inode_t *slots;
} isomount_names_t;

static void *isomount_names_new (struct fuse_chan *ch) {
  isomount_names_t *t = calloc(1, sizeof(isomount_names_t));
  if (t == NULL) return NULL;
  pthread_mutex_init(&t->lock, NULL);
  t->ch = ch;
  return t;
}

// The session is ending: its channel is about to be freed, so no notification may be sent after this.
static void isomount_names_close (void *names) {
  isomount_names_t *t = names;
  if (t == NULL) return;
  pthread_mutex_lock(&t->lock);
  t->closed = 1;
  pthread_mutex_unlock(&t->lock);
}

static isomount_inode_t *isomount_slot (isomount_inode_t *slots, size_t capacity, uint32_t ino) {
  size_t i = ((size_t) ino * 2654435761u) & (capacity - 1);
  while (slots[i].ino != 0 && slots[i].ino != ino) i = (i + 1) & (capacity - 1);
  return &slots[i];
}

static int isomount_grow (isomount_names_t *t) {
  size_t capacity = t->capacity == 0 ? 4096 : t->capacity * 2;
  isomount_inode_t *slots = calloc(capacity, sizeof(isomount_inode_t));
  if (slots == NULL) return -1;
  for (size_t i = 0; i < t->capacity; i++) {
    if (t->slots[i].ino != 0) *isomount_slot(slots, capacity, t->slots[i].ino) = t->slots[i];
  }
  free(t->slots);
  t->slots = slots;
  t->capacity = capacity;
  return 0;
}

// Called on libfuse threads, inside the request the reply answers (its context names our mount).
static void isomount_note_entry (const struct fuse_entry_param *e) {
  if (e == NULL || e->ino == 0 || e->attr.st_ino == 0 || S_ISDIR(e->attr.st_mode)) return;
  fuse_thread_t *ft = fuse_get_context()->private_data;
  isomount_names_t *t = ft == NULL ? NULL : ft->isomount_names;
  if (t == NULL) return;
  uint32_t ino = (uint32_t) e->attr.st_ino;
  pthread_mutex_lock(&t->lock);
  if ((t->used + 1) * 4 <= t->capacity * 3 || isomount_grow(t) == 0) {
    isomount_inode_t *s = isomount_slot(t->slots, t->capacity, ino);
    if (s->ino == 0) {
      s->ino = ino;
      t->used++;
    }
    int known = 0;
    for (int i = 0; i < ISOMOUNT_NAMES; i++) known |= s->nodeids[i] == e->ino;
    if (!known) s->nodeids[s->next++ % ISOMOUNT_NAMES] = e->ino;
  }
  pthread_mutex_unlock(&t->lock);
}

__attribute__((visibility("default"))) int fuse_reply_entry (fuse_req_t req, const struct fuse_entry_param *e) {
  static int (*reply)(fuse_req_t, const struct fuse_entry_param *) = NULL;
  if (reply == NULL) reply = (int (*)(fuse_req_t, const struct fuse_entry_param *)) dlsym(RTLD_NEXT, "fuse_reply_entry");
  isomount_note_entry(e);
  return reply(req, e);
}

__attribute__((visibility("default"))) int fuse_reply_create (fuse_req_t req, const struct fuse_entry_param *e, const struct fuse_file_info *fi) {
  static int (*reply)(fuse_req_t, const struct fuse_entry_param *, const struct fuse_file_info *) = NULL;
  if (reply == NULL) reply = (int (*)(fuse_req_t, const struct fuse_entry_param *, const struct fuse_file_info *)) dlsym(RTLD_NEXT, "fuse_reply_create");
  isomount_note_entry(e);
  return reply(req, e, fi);
}

// fuse_native_invalidate(thread, ino): how many kernel inodes were told to drop their attributes.
NAPI_METHOD(fuse_native_invalidate) {
  NAPI_ARGV(2)
  NAPI_ARGV_BUFFER_CAST(fuse_thread_t *, ft, 0)
  NAPI_ARGV_UINT32(ino, 1)
  int32_t told = 0;
  isomount_names_t *t = ft->isomount_names;
  if (t != NULL && ino != 0) {
    pthread_mutex_lock(&t->lock);
    isomount_inode_t *s = t->closed || t->capacity == 0 ? NULL : isomount_slot(t->slots, t->capacity, ino);
    for (int i = 0; s != NULL && s->ino == ino && i < ISOMOUNT_NAMES; i++) {
      if (s->nodeids[i] != 0 && fuse_lowlevel_notify_inval_inode(t->ch, s->nodeids[i], -1, 0) == 0) told++;
    }
    pthread_mutex_unlock(&t->lock);
  }
  NAPI_RETURN_INT32(told)
}

static void populate_stat (`]
  ]
}, {
  mark: '/* isomount: attributes answered on the libfuse thread */',
  edits: [
    ['  void *isomount_names;\n} fuse_thread_t;', '  void *isomount_names;\n  void *isomount_attrs;\n} fuse_thread_t;'],
    ['  pid_t caller_pid;\n', '  pid_t caller_pid;\n  uint32_t attrs_generation;\n'],
    // Every request that may change attributes empties the table before it reaches JavaScript and again
    // once it is answered (a listing made meanwhile may hold what was true before it).
    ['  uv_async_send(&(l->async));\\\n  uv_sem_wait(&(l->sem));\\\n',
      '  isomount_attrs_changing(l);\\\n  uv_async_send(&(l->async));\\\n  uv_sem_wait(&(l->sem));\\\n  isomount_attrs_changing(l);\\\n'],
    ['  l->readdir_filler = filler;\n}, {', '  l->readdir_filler = filler;\n  l->attrs_generation = isomount_attrs_generation(l->fuse == NULL ? NULL : l->fuse->isomount_attrs);\n}, {'],
    ['      int err = l->readdir_filler((char *) l->buf, name, (struct stat *) &st, 0);\n',
      '      isomount_attrs_put(l, name, stats_array);\n      int err = l->readdir_filler((char *) l->buf, name, (struct stat *) &st, 0);\n'],
    ['  if (implemented[op_getattr]) ops.getattr = fuse_native_getattr;', '  if (implemented[op_getattr]) ops.getattr = isomount_getattr;'],
    ['  ft->isomount_names = isomount_names_new(ch);\n', '  ft->isomount_names = isomount_names_new(ch);\n  ft->isomount_attrs = isomount_attrs_new();\n'],
    ['  NAPI_EXPORT_FUNCTION(fuse_native_invalidate)\n', '  NAPI_EXPORT_FUNCTION(fuse_native_invalidate)\n  NAPI_EXPORT_FUNCTION(fuse_native_forget_attributes)\n'],
    ['static void populate_stat (', `/* isomount: attributes answered on the libfuse thread */
// libfuse 2's path API has no readdirplus: after a listing, the kernel looks up every entry again (ls -l,
// tar), and each lookup crossed to the JavaScript thread and back, three thread wakeups where fuseiso
// has one. The attributes a listing just gave are kept here, by path, and a getattr of one is answered
// on the libfuse thread. Anything that may change attributes empties the table (before and after it runs),
// and a listing started before such a change adds nothing (the generation moved on).
#define ISOMOUNT_ATTRS_BUCKETS (1u << 14)
#define ISOMOUNT_ATTRS_MAX 8192
typedef struct isomount_attr {
  struct isomount_attr *next;
  struct isomount_attr *all;
  uint32_t hash;
  uint32_t ints[18];
  char path[];
} isomount_attr_t;

typedef struct {
  pthread_mutex_t lock;
  uint32_t generation;
  size_t count;
  isomount_attr_t *all;
  isomount_attr_t **buckets;
} isomount_attrs_t;

static void *isomount_attrs_new (void) {
  isomount_attrs_t *t = calloc(1, sizeof(isomount_attrs_t));
  if (t == NULL) return NULL;
  t->buckets = calloc(ISOMOUNT_ATTRS_BUCKETS, sizeof(isomount_attr_t *));
  if (t->buckets == NULL) {
    free(t);
    return NULL;
  }
  pthread_mutex_init(&t->lock, NULL);
  return t;
}

static uint32_t isomount_hash (const char *s, size_t dir_length, const char *name) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < dir_length; i++) h = (h ^ (unsigned char) s[i]) * 16777619u;
  if (name != NULL) {
    if (dir_length != 1) h = (h ^ (unsigned char) '/') * 16777619u;
    for (; *name != 0; name++) h = (h ^ (unsigned char) *name) * 16777619u;
  }
  return h;
}

// Called with the lock held.
static void isomount_attrs_empty (isomount_attrs_t *t) {
  t->generation++;
  if (t->count == 0) return;
  for (isomount_attr_t *e = t->all; e != NULL;) {
    isomount_attr_t *next = e->all;
    t->buckets[e->hash & (ISOMOUNT_ATTRS_BUCKETS - 1)] = NULL;
    free(e);
    e = next;
  }
  t->all = NULL;
  t->count = 0;
}

static uint32_t isomount_attrs_generation (void *attrs) {
  isomount_attrs_t *t = attrs;
  if (t == NULL) return 0;
  pthread_mutex_lock(&t->lock);
  uint32_t generation = t->generation;
  pthread_mutex_unlock(&t->lock);
  return generation;
}

// On a libfuse thread, before and after each request: those that only read leave the table alone.
static void isomount_attrs_changing (fuse_thread_locals_t *l) {
  uint32_t op = l->op;
  if (op == op_getattr || op == op_fgetattr || op == op_readdir || op == op_readlink || op == op_open ||
      op == op_opendir || op == op_read || op == op_release || op == op_releasedir || op == op_statfs ||
      op == op_access || op == op_getxattr || op == op_listxattr || op == op_init || op == op_error) return;
  isomount_attrs_t *t = l->fuse == NULL ? NULL : l->fuse->isomount_attrs;
  if (t == NULL) return;
  pthread_mutex_lock(&t->lock);
  isomount_attrs_empty(t);
  pthread_mutex_unlock(&t->lock);
}

// On the JavaScript thread, as a listing is answered: one entry of the directory l->path.
static void isomount_attrs_put (fuse_thread_locals_t *l, const char *name, const uint32_t *ints) {
  isomount_attrs_t *t = l->fuse == NULL ? NULL : l->fuse->isomount_attrs;
  if (t == NULL || (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))) return;
  size_t dir_length = strlen(l->path);
  size_t name_length = strlen(name);
  pthread_mutex_lock(&t->lock);
  if (t->generation == l->attrs_generation) {
    // Bounded: a full table starts again (the listing being answered is what the next lookups want).
    if (t->count >= ISOMOUNT_ATTRS_MAX) {
      isomount_attrs_empty(t);
      l->attrs_generation = t->generation;
    }
    isomount_attr_t *e = malloc(sizeof(isomount_attr_t) + dir_length + name_length + 2);
    if (e != NULL) {
      memcpy(e->path, l->path, dir_length);
      size_t at = dir_length;
      if (dir_length != 1) e->path[at++] = '/';
      memcpy(e->path + at, name, name_length + 1);
      e->hash = isomount_hash(l->path, dir_length, name);
      memcpy(e->ints, ints, sizeof(e->ints));
      isomount_attr_t **bucket = &t->buckets[e->hash & (ISOMOUNT_ATTRS_BUCKETS - 1)];
      e->next = *bucket;
      *bucket = e;
      e->all = t->all;
      t->all = e;
      t->count++;
    }
  }
  pthread_mutex_unlock(&t->lock);
}

static void populate_stat (uint32_t *ints, struct stat* stat);
static int fuse_native_getattr (const char *path, struct stat *stat);

static int isomount_getattr (const char *path, struct stat *stat) {
  fuse_thread_t *ft = fuse_get_context()->private_data;
  isomount_attrs_t *t = ft == NULL ? NULL : ft->isomount_attrs;
  if (t != NULL) {
    uint32_t hash = isomount_hash(path, strlen(path), NULL);
    uint32_t ints[18];
    int found = 0;
    pthread_mutex_lock(&t->lock);
    for (isomount_attr_t *e = t->buckets[hash & (ISOMOUNT_ATTRS_BUCKETS - 1)]; e != NULL; e = e->next) {
      if (e->hash == hash && strcmp(e->path, path) == 0) {
        memcpy(ints, e->ints, sizeof(ints));
        found = 1;
        break;
      }
    }
    pthread_mutex_unlock(&t->lock);
    if (found) {
      memset(stat, 0, sizeof(*stat));
      populate_stat(ints, stat);
      return 0;
    }
  }
  return fuse_native_getattr(path, stat);
}

// fuse_native_forget_attributes(thread): after a change made elsewhere than through a request (a commit).
NAPI_METHOD(fuse_native_forget_attributes) {
  NAPI_ARGV(1)
  NAPI_ARGV_BUFFER_CAST(fuse_thread_t *, ft, 0)
  isomount_attrs_t *t = ft->isomount_attrs;
  if (t != NULL) {
    pthread_mutex_lock(&t->lock);
    isomount_attrs_empty(t);
    pthread_mutex_unlock(&t->lock);
  }
  return NULL;
}

static void populate_stat (`]
  ]
}]

const text = fs.readFileSync(source, 'utf8')
const built = path.join(pkg, 'build', 'Release', 'fuse.node')
const missing = PATCHES.filter(p => !text.includes(p.mark))
if (missing.length === 0 && fs.existsSync(built)) process.exit(0)
let fixed = text
for (const patch of missing) {
  for (const [from, to] of patch.edits) {
    if (fixed.split(from).length !== 2) {
      // A different fuse-native: see whether the patches still apply before changing this script.
      console.error(`build-fuse-native: ${source} does not contain the expected code exactly once; refusing to guess:\n${from}`)
      process.exit(1)
    }
    fixed = fixed.replace(from, () => to)
  }
}
fs.writeFileSync(source, fixed)

try {
  rebuild(pkg)
} catch (err) {
  fs.writeFileSync(source, text) // leave the package as it was, so a retry starts clean
  if (process.platform !== 'linux') {
    console.error(`build-fuse-native: warning: building fuse-native with our patches failed on ${process.platform} (${err.message}); ` +
      'its prebuilt addon is used, with which file times set through a mount (cp -a, touch -m) may be wrong, ' +
      'new files belong to the mounting user, and hard links may disagree for a second')
    process.exit(0)
  }
  console.error(`build-fuse-native: building fuse-native failed (${err.message}); scripts/setup.sh installs what it needs`)
  process.exit(1)
}
console.error('build-fuse-native: built fuse-native with the utimens fixes, the request context, kernel inode invalidation and attributes answered on the libfuse thread')
