export async function activityA(): Promise<string> {
  return 'A';
}
export async function activityB(): Promise<string> {
  return 'B';
}
export async function activityThatMustRunAfterA(): Promise<string> {
  return 'after A';
}
