{
  "targets": [
    {
      "target_name": "lmflow_cpu",
      "sources": ["<!@(node scripts/native-sources.cjs)"],
      "include_dirs": ["native"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fno-math-errno", "-fvisibility=hidden", "-Wall", "-Wno-unused-function"],
      "cflags!": ["-O2"],
      "cflags": ["-O3"],
      "ldflags": ["-pthread"],
      "libraries": ["-ldl"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno"]
      }
    }
  ]
}
