import pg from "pg";

/** A pool or one pooled client: what a repository runs its statements on. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * Type parsers for this registry's pool: BIGINT (times in milliseconds, sequence
 * numbers, counts) as a JavaScript number. Every value stored fits in 2^53.
 */
export const registryTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as "text");
  },
} as pg.CustomTypesConfig;

/** Rows of a statement. */
export async function rows<R extends pg.QueryResultRow>(q: Queryable, text: string, values: unknown[] = []): Promise<R[]> {
  return (await q.query<R>(text, values)).rows;
}

/** Rows changed by a statement. */
export async function changed(q: Queryable, text: string, values: unknown[] = []): Promise<number> {
  return (await q.query(text, values)).rowCount ?? 0;
}
