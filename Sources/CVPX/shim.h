#ifndef CVPX_SHIM_H
#define CVPX_SHIM_H
#include <vpx/vpx_encoder.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>

/* vpx_codec_enc_init is a macro over the ABI version, which Swift cannot see. */
static inline vpx_codec_err_t CVPX_encInit(vpx_codec_ctx_t *ctx, const vpx_codec_enc_cfg_t *cfg, vpx_codec_flags_t flags) {
    return vpx_codec_enc_init_ver(ctx, vpx_codec_vp8_cx(), cfg, flags, VPX_ENCODER_ABI_VERSION);
}
static inline vpx_codec_err_t CVPX_decInit(vpx_codec_ctx_t *ctx) {
    return vpx_codec_dec_init_ver(ctx, vpx_codec_vp8_dx(), NULL, 0, VPX_DECODER_ABI_VERSION);
}
/* vpx_codec_control_ is variadic. */
static inline vpx_codec_err_t CVPX_setCpuUsed(vpx_codec_ctx_t *ctx, int v) { return vpx_codec_control_(ctx, VP8E_SET_CPUUSED, v); }
static inline vpx_codec_err_t CVPX_setStaticThreshold(vpx_codec_ctx_t *ctx, unsigned int v) { return vpx_codec_control_(ctx, VP8E_SET_STATIC_THRESHOLD, v); }
static inline vpx_codec_err_t CVPX_setNoiseSensitivity(vpx_codec_ctx_t *ctx, unsigned int v) { return vpx_codec_control_(ctx, VP8E_SET_NOISE_SENSITIVITY, v); }
static inline vpx_codec_err_t CVPX_setTokenPartitions(vpx_codec_ctx_t *ctx, int v) { return vpx_codec_control_(ctx, VP8E_SET_TOKEN_PARTITIONS, v); }
static inline vpx_codec_err_t CVPX_setMaxIntraBitratePct(vpx_codec_ctx_t *ctx, unsigned int v) { return vpx_codec_control_(ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, v); }
static inline const vpx_codec_cx_pkt_t *CVPX_frameData(const vpx_codec_cx_pkt_t *p, const void **buf, size_t *sz, int *key) {
    if (p->kind != VPX_CODEC_CX_FRAME_PKT) return NULL;
    *buf = p->data.frame.buf; *sz = p->data.frame.sz; *key = (p->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
    return p;
}
static inline int CVPX_isFramePacket(const vpx_codec_cx_pkt_t *p) { return p->kind == VPX_CODEC_CX_FRAME_PKT; }
static inline vpx_codec_pts_t CVPX_framePts(const vpx_codec_cx_pkt_t *p) { return p->data.frame.pts; }
#endif
