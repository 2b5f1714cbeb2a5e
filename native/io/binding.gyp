{
  "targets": [
    {
      "target_name": "robustmq_io",
      "conditions": [["OS=='linux'", { "sources": ["io.c"] }]],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
