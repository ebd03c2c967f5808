/** Error codes Janus returns: core (4xx below 480) and AudioBridge (480–499). */
export const JanusErrorCode = {
  // Core (janus/apierror.h)
  UNAUTHORIZED: 403,
  UNAUTHORIZED_PLUGIN: 405,
  UNKNOWN: 490,
  TRANSPORT_SPECIFIC: 450,
  MISSING_REQUEST: 452,
  UNKNOWN_REQUEST: 453,
  INVALID_JSON: 454,
  INVALID_JSON_OBJECT: 455,
  MISSING_MANDATORY_ELEMENT: 456,
  INVALID_REQUEST_PATH: 457,
  SESSION_NOT_FOUND: 458,
  HANDLE_NOT_FOUND: 459,
  PLUGIN_NOT_FOUND: 460,
  PLUGIN_ATTACH: 461,
  PLUGIN_MESSAGE: 462,
  PLUGIN_DETACH: 463,
  JSEP_UNKNOWN_TYPE: 464,
  JSEP_INVALID_SDP: 465,
  TRICKE_INVALID_STREAM: 466,
  INVALID_ELEMENT_TYPE: 467,
  SESSION_CONFLICT: 468,
  UNEXPECTED_ANSWER: 469,
  TOKEN_NOT_FOUND: 470,
  WEBRTC_STATE: 471,
  NOT_ACCEPTING_SESSIONS: 472,
  // AudioBridge (janus_audiobridge.c)
  AUDIOBRIDGE_NO_MESSAGE: 480,
  AUDIOBRIDGE_INVALID_JSON: 481,
  AUDIOBRIDGE_INVALID_REQUEST: 482,
  AUDIOBRIDGE_MISSING_ELEMENT: 483,
  AUDIOBRIDGE_INVALID_ELEMENT: 484,
  AUDIOBRIDGE_NO_SUCH_ROOM: 485,
  AUDIOBRIDGE_ROOM_EXISTS: 486,
  AUDIOBRIDGE_NOT_JOINED: 487,
  AUDIOBRIDGE_LIBOPUS_ERROR: 488,
  AUDIOBRIDGE_UNAUTHORIZED: 489,
  AUDIOBRIDGE_ID_EXISTS: 490,
  AUDIOBRIDGE_ALREADY_JOINED: 491,
  AUDIOBRIDGE_NO_SUCH_USER: 492,
  AUDIOBRIDGE_INVALID_SDP: 493,
  AUDIOBRIDGE_NO_SUCH_GROUP: 494,
  AUDIOBRIDGE_UNKNOWN_ERROR: 499,
} as const;

/** Streaming plugin error codes (janus_streaming.c): they overlap the core's, so they are kept apart. */
export const StreamingErrorCode = {
  NO_MESSAGE: 450,
  INVALID_JSON: 451,
  INVALID_REQUEST: 452,
  MISSING_ELEMENT: 453,
  INVALID_ELEMENT: 454,
  NO_SUCH_MOUNTPOINT: 455,
  CANT_CREATE: 456,
  UNAUTHORIZED: 457,
  CANT_SWITCH: 458,
  CANT_RECORD: 459,
  INVALID_STATE: 460,
  UNKNOWN_ERROR: 470,
} as const;

/** What went wrong, independent of whether the core or the plugin said it. */
export type JanusErrorKind =
  | 'no-such-room'
  | 'room-exists'
  | 'unauthorized'
  | 'no-such-user'
  | 'missing-element'
  | 'invalid-element'
  | 'not-joined'
  | 'already-joined'
  | 'id-exists'
  | 'invalid-sdp'
  | 'no-such-session'
  | 'no-such-handle'
  | 'no-such-mountpoint'
  | 'cant-create'
  | 'other';

const KIND_BY_CODE: Record<number, JanusErrorKind> = {
  [JanusErrorCode.AUDIOBRIDGE_NO_SUCH_ROOM]: 'no-such-room',
  [JanusErrorCode.AUDIOBRIDGE_ROOM_EXISTS]: 'room-exists',
  [JanusErrorCode.AUDIOBRIDGE_UNAUTHORIZED]: 'unauthorized',
  [JanusErrorCode.UNAUTHORIZED]: 'unauthorized',
  [JanusErrorCode.AUDIOBRIDGE_NO_SUCH_USER]: 'no-such-user',
  [JanusErrorCode.AUDIOBRIDGE_MISSING_ELEMENT]: 'missing-element',
  [JanusErrorCode.MISSING_MANDATORY_ELEMENT]: 'missing-element',
  [JanusErrorCode.AUDIOBRIDGE_INVALID_ELEMENT]: 'invalid-element',
  [JanusErrorCode.INVALID_ELEMENT_TYPE]: 'invalid-element',
  [JanusErrorCode.AUDIOBRIDGE_NOT_JOINED]: 'not-joined',
  [JanusErrorCode.AUDIOBRIDGE_ALREADY_JOINED]: 'already-joined',
  [JanusErrorCode.AUDIOBRIDGE_ID_EXISTS]: 'id-exists',
  [JanusErrorCode.AUDIOBRIDGE_INVALID_SDP]: 'invalid-sdp',
  [JanusErrorCode.JSEP_INVALID_SDP]: 'invalid-sdp',
  [JanusErrorCode.SESSION_NOT_FOUND]: 'no-such-session',
  [JanusErrorCode.HANDLE_NOT_FOUND]: 'no-such-handle',
};

const STREAMING_KIND_BY_CODE: Record<number, JanusErrorKind> = {
  [StreamingErrorCode.MISSING_ELEMENT]: 'missing-element',
  [StreamingErrorCode.INVALID_ELEMENT]: 'invalid-element',
  [StreamingErrorCode.NO_SUCH_MOUNTPOINT]: 'no-such-mountpoint',
  [StreamingErrorCode.CANT_CREATE]: 'cant-create',
  [StreamingErrorCode.UNAUTHORIZED]: 'unauthorized',
};

/** Janus answered, with an error: from the core (`error.code`) or a plugin (`error_code`). */
export class JanusError extends Error {
  override readonly name = 'JanusError';
  readonly kind: JanusErrorKind;
  constructor(
    readonly code: number,
    readonly reason: string,
    /** The request that failed, e.g. "create" or "mute". */
    readonly request?: string,
    /** The plugin that answered (plugin errors only): the Streaming plugin's codes overlap the core's. */
    readonly plugin?: string,
  ) {
    super(`Janus ${request ? `${request}: ` : ''}${reason} (${code})`);
    // 490 is both the core's "unknown" and AudioBridge's "ID exists"; AudioBridge's wins here.
    this.kind = (plugin === 'janus.plugin.streaming' ? STREAMING_KIND_BY_CODE[code] : KIND_BY_CODE[code]) ?? 'other';
  }
}

/** Janus could not be reached, or the session is gone (Janus restarted, session timed out). */
export class JanusConnectionError extends Error {
  override readonly name = 'JanusConnectionError';
}
