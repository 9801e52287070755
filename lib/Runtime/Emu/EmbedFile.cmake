# Writes the file IN to OUT as the body of a C++ raw string literal, for
# `static const char x[] =\n#include "OUT"\n;`. Run with
# cmake -DIN=... -DOUT=... -P EmbedFile.cmake; OUT is only touched when its
# contents change.
file(READ "${IN}" content)
if(content MATCHES "\\)dlm_embed\"")
  message(FATAL_ERROR "${IN} contains the raw string delimiter )dlm_embed\"")
endif()
set(text "// Generated from ${IN} by EmbedFile.cmake; do not edit.\nR\"dlm_embed(${content})dlm_embed\"\n")
file(WRITE "${OUT}.tmp" "${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
