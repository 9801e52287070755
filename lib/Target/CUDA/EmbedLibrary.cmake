# Writes the device library a bundle carries: dlm_kernels.cuh, then the
# tensor-core headers (dlm_tc.cuh, dlm_tc_conv.cuh) inside an #if that keeps
# them from architectures older than sm_80, so that an FP32 bundle still
# compiles everywhere. The result goes to LIBRARY (the file a bundle's
# dlm_kernels.cuh equals) and, as a C++ raw string literal, to OUTPUT. Run
# with
#   cmake -DKERNELS=<dlm_kernels.cuh> -DTC=<dlm_tc.cuh> -DTC_CONV=<dlm_tc_conv.cuh>
#         -DLIBRARY=<file.cuh> -DOUTPUT=<file.inc> -P EmbedLibrary.cmake
file(READ "${KERNELS}" kernels)
file(READ "${TC}" tc)
file(READ "${TC_CONV}" tc_conv)
set(content "${kernels}
//===----------------------------------------------------------------------===//
// Tensor cores: dlm_tc.cuh and dlm_tc_conv.cuh (sm_80 and newer, the CPU
// emulator, and nvcc's host pass)
//===----------------------------------------------------------------------===//

#if defined(DLM_EMU) || !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
${tc}
${tc_conv}
#endif
")
string(FIND "${content}" ")dlm_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "the device library contains the raw-string delimiter )dlm_embed\"")
endif()
file(WRITE "${LIBRARY}.tmp" "${content}")
file(RENAME "${LIBRARY}.tmp" "${LIBRARY}")
file(WRITE "${OUTPUT}.tmp" "R\"dlm_embed(${content})dlm_embed\"\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
