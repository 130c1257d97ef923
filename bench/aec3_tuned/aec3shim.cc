// A C interface to WebRTC's audio processing module (2.1) with AEC3 whose suppressor settings can
// be changed, for tune.py. Settings come as floats in the order of SETTINGS in tune.py; NaN keeps
// AEC3's default. 10 ms frames of s16 mono: far (played) at far_rate, near (microphone) at near_rate.
#include <cstdint>
#include <memory>
#include <optional>

#include "api/audio/audio_processing.h"
#include "api/audio/echo_canceller3_config.h"
#include "api/audio/echo_control.h"
#include "modules/audio_processing/aec3/echo_canceller3.h"

namespace {

class Factory : public webrtc::EchoControlFactory {
 public:
  explicit Factory(const webrtc::EchoCanceller3Config& config) : config_(config) {}
  std::unique_ptr<webrtc::EchoControl> Create(int rate, int render_channels, int capture_channels) override {
    return std::make_unique<webrtc::EchoCanceller3>(config_, std::nullopt, rate, render_channels, capture_channels);
  }

 private:
  webrtc::EchoCanceller3Config config_;
};

struct Shim {
  rtc::scoped_refptr<webrtc::AudioProcessing> apm;
  webrtc::StreamConfig near, far;
};

}  // namespace

extern "C" {

void* shim_new(int near_rate, int far_rate, const float* settings, int count) {
  webrtc::EchoCanceller3Config config;
  auto& s = config.suppressor;
  float* fields[] = {
      &s.nearend_tuning.mask_lf.enr_transparent, &s.nearend_tuning.mask_lf.enr_suppress,
      &s.nearend_tuning.mask_hf.enr_transparent, &s.nearend_tuning.mask_hf.enr_suppress,
      &s.dominant_nearend_detection.enr_threshold, &s.dominant_nearend_detection.snr_threshold,
      &s.normal_tuning.mask_lf.enr_transparent, &s.normal_tuning.mask_lf.enr_suppress,
      &s.normal_tuning.mask_hf.enr_transparent, &s.normal_tuning.mask_hf.enr_suppress,
  };
  const int n = sizeof(fields) / sizeof(fields[0]);
  for (int i = 0; i < count && i < n; ++i) {
    if (settings[i] == settings[i]) *fields[i] = settings[i];  // NaN: the default
  }
  webrtc::AudioProcessing::Config apm_config;
  apm_config.echo_canceller.enabled = true;
  apm_config.high_pass_filter.enabled = false;  // as tfy-live by default (no --high-pass)
  auto* shim = new Shim{webrtc::AudioProcessingBuilder()
                            .SetConfig(apm_config)
                            .SetEchoControlFactory(std::make_unique<Factory>(config))
                            .Create(),
                        webrtc::StreamConfig(near_rate, 1), webrtc::StreamConfig(far_rate, 1)};
  return shim;
}

int shim_far(void* handle, int16_t* frame) {
  auto* shim = static_cast<Shim*>(handle);
  return shim->apm->ProcessReverseStream(frame, shim->far, shim->far, frame);
}

int shim_near(void* handle, int16_t* frame) {  // in place
  auto* shim = static_cast<Shim*>(handle);
  shim->apm->set_stream_delay_ms(0);  // a hint only: AEC3 estimates the delay itself
  return shim->apm->ProcessStream(frame, shim->near, shim->near, frame);
}

void shim_free(void* handle) { delete static_cast<Shim*>(handle); }

}  // extern "C"
