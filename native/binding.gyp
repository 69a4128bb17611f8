{
  "targets": [{
    "target_name": "copy_range",
    "sources": ["copy-range.c"],
    "cflags": ["-O2", "-Wall"]
  }]
}
