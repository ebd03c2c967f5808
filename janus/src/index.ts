// The main entry: launcher and client. Test tooling (Opus, RTP endpoints, tone detection, which
// load opusscript) lives in '@spaces/janus/testing' (src/testing.ts), so the API never loads it.
export {
  CONFIG_TEMPLATE_DIR,
  JanusNotInstalledError,
  JanusStartError,
  ensureJanusBinary,
  findFreePort,
  janusOptionsFromEnv,
  renderConfigTemplate,
  startJanus,
  type JanusIceOptions,
  type JanusLaunchOptions,
  type RunningJanus,
} from './launcher.ts';
export {
  JanusSession,
  messageForeignHandle,
  type JanusSessionEvents,
  type JanusSessionOptions,
} from './session.ts';
export { PluginHandle, type CoreHandleEvents } from './handle.ts';
export {
  AudioBridgeHandle,
  type AudioBridgeConfigureOptions,
  type AudioBridgeEvents,
  type AudioBridgeJoinOptions,
  type AudioBridgeJoined,
  type AudioBridgeParticipant,
  type AudioBridgeRoomOptions,
  type PlainRtpAnswer,
  type PlainRtpOffer,
  type RtpForwardOptions,
  type RtpForwarder,
  type SamplingRate,
} from './audiobridge.ts';
export {
  StreamingHandle,
  type RtpAudioMountpointOptions,
  type StreamingEvents,
  type StreamingMountpoint,
} from './streaming.ts';
export type { JanusMessage, Jsep, PluginData } from './transport.ts';
export { JanusConnectionError, JanusError, JanusErrorCode, StreamingErrorCode, type JanusErrorKind } from './errors.ts';
export { TypedEmitter, type EventMap } from './emitter.ts';
