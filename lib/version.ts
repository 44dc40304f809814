/** SyncHub's version: `source.version` of every envelope and `synchub_build_info`. */
export const VERSION = "0.5.0";
