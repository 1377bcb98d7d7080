// The form our SSM Command documents share: one shell step on Linux, every parameter a string
// that SSM checks against a strict pattern before the script runs.

export interface DocumentParameter {
  /** The pattern SSM checks the value against (`allowedPattern`). */
  readonly pattern: string;
  readonly description: string;
}

export interface ShellDocument {
  readonly description: string;
  readonly parameters: Readonly<Record<string, DocumentParameter>>;
  readonly stepName: string;
  /** Bounds a stuck host; each script ends by itself before. */
  readonly timeoutSeconds: number;
  readonly script: string;
}

/** SSM Command document (schema 2.2) content, as JSON text. */
export function renderShellDocument(document: ShellDocument): string {
  return JSON.stringify(
    {
      schemaVersion: "2.2",
      description: document.description,
      parameters: Object.fromEntries(
        Object.entries(document.parameters).map(([name, spec]) => [name, { type: "String", description: spec.description, allowedPattern: spec.pattern }]),
      ),
      mainSteps: [
        {
          action: "aws:runShellScript",
          name: document.stepName,
          precondition: { StringEquals: ["platformType", "Linux"] },
          inputs: { timeoutSeconds: String(document.timeoutSeconds), runCommand: document.script.split("\n") },
        },
      ],
    },
    null,
    2,
  );
}
