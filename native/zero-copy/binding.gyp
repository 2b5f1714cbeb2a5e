{
  "targets": [
    {
      "target_name": "zero_copy",
      "conditions": [["OS=='linux'", { "sources": ["zero_copy.c"] }]],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
