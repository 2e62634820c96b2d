// chain3 with the SDK: three activities one after the other.
import { proxyActivities } from '../../src/workflow';

const { step } = proxyActivities<{ step(i: number): Promise<number> }>({ startToCloseTimeout: '30s' });

export async function chain3(): Promise<number> {
  let r = 0;
  for (let i = 1; i <= 3; i++) r = await step(i);
  return r;
}

// bench/run --long: n activities one after the other (started with input [n]).
export async function chainN(n: number): Promise<number> {
  let r = 0;
  for (let i = 1; i <= n; i++) r = await step(i);
  return r;
}
