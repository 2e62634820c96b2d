/** A workflow module that calls patched() at load time: Temporal refuses it, so does durable. */
import { patched } from '../../src/workflow';

export const atLoad = patched('at-load');

export async function patchAtLoad(): Promise<boolean> {
  return atLoad;
}
