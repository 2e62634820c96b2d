export interface DB {
  get(key: string): Promise<string>;
}

/** Activities that share one dependency, created once by the worker. */
export const createActivities = (db: DB) => ({
  async greet(msg: string): Promise<string> {
    const name = await db.get('name');
    return `${msg}: ${name}`;
  },
  async greet_es(mensaje: string): Promise<string> {
    const name = await db.get('name');
    return `${mensaje}: ${name}`;
  },
});
