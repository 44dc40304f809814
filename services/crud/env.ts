/** The CRUD app's context: what the guards put on every request, for the routes to read. */
import type { Principal } from "../../lib/access.ts";
import type { Claims } from "../../lib/jwt.ts";

export type CrudEnv = {
  Variables: {
    /** The verified token (authenticated routes only). */
    claims: Claims;
    /** Who asks, as the access policy sees it. */
    principal: Principal;
    /** The client's address, as rate limits count it. */
    address: string;
  };
};

/** Reads a request body as JSON, within the body size limit. */
export type JsonBody = (req: Request) => Promise<unknown>;
