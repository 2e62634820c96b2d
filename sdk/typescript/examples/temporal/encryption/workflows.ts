/** Its input and result are stored encrypted: the codec runs in the client and the worker, never in the database. */
export async function example(message: string): Promise<string> {
  return `${message}\nBob: Hi Alice, I'm Workflow Bob.`;
}
