# Alternative build of the addon with node-gyp; CMakeLists.txt (driven by cmake-js through `npm ci`) is the canonical one.
# Use: ORT_INCLUDE_DIR=/path/to/onnxruntime/include ORT_LIBRARY=/path/to/libonnxruntime.so.1 \
#      node-gyp rebuild --nodedir="$(dirname "$(dirname "$(command -v node)")")"
# (without --nodedir node-gyp tries to download Node headers). The addon lands in build/Release/ortserve.node.
{
  "targets": [
    {
      "target_name": "ortserve",
      "sources": [
        "<!@(ls native/core/*.cc native/ort/*.cc native/binding/*.cc)"
      ],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(echo $ORT_INCLUDE_DIR)"
      ],
      "libraries": ["<!(echo $ORT_LIBRARY)", "-Wl,-rpath,'$$ORIGIN/../../node_modules/onnxruntime-node/bin/napi-v6/linux/x64'"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"]
    }
  ]
}
