export async function previewMaterialization(..._args: unknown[]): Promise<number> {
  throw new Error("not yet");
}
