/** The control API's context: who is calling, as the guards established it. */
export type ControlEnv = {
  Variables: {
    /** `token` for server.auth_token, else the admin JWT's subject. */
    caller: string;
  };
};

/** Reads a request body as JSON, within the body size limit. */
export type JsonBody = (req: Request) => Promise<unknown>;
