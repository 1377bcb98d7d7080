// What a delivery is told beside the config, as explicit parameters it reads as they are (the
// Command's environment on docker, the SSM document's parameters on aws): the weight of each
// weighted server. When the running config differs from the new one in those weights only, the
// delivery sets them through the runtime API instead of reloading. The parameters hold server
// names and numbers only, never a secret: on aws SSM keeps them in its command history.

/** The plan's format; the delivery refuses a version it does not know. */
export const DELIVERY_PLAN_VERSION = 1;

export interface DeliveryPlan {
  readonly version: typeof DELIVERY_PLAN_VERSION;
  /** Each weighted server as the runtime API names it, `<backend>/<server>=<weight>`, space-separated. */
  readonly weights: string;
}

/** What a plan's `weights` may hold: backend and server names as the renderer writes them, `/`, `=`, weights. */
export const PLAN_WEIGHTS_PATTERN = "^([a-z_]+/[A-Za-z0-9_.:-]+=[0-9]{1,3}( [a-z_]+/[A-Za-z0-9_.:-]+=[0-9]{1,3})*)?$";

/** The plan of a rendered config: every `server ... weight <n>` line of its backends. */
export function deliveryPlan(config: string): DeliveryPlan {
  const weights: string[] = [];
  let backend: string | undefined;
  for (const line of config.split("\n")) {
    const section = /^([a-z-]+)(?:\s+(\S+))?/.exec(line);
    if (section) backend = section[1] === "backend" ? section[2] : undefined;
    const server = /^\s+server\s+(\S+)\s.*\sweight (\d+)(?:\s|$)/.exec(line);
    if (server && backend !== undefined) weights.push(`${backend}/${server[1]}=${server[2]}`);
  }
  const plan = { version: DELIVERY_PLAN_VERSION, weights: weights.join(" ") } as const;
  if (!new RegExp(PLAN_WEIGHTS_PATTERN).test(plan.weights)) throw new Error(`deliveryPlan: server weights outside the plan's characters: ${plan.weights}`);
  return plan;
}

/** The plan as the delivery script's environment. */
export function deliveryPlanEnvironment(plan: DeliveryPlan): Record<string, string> {
  return { PLAN_VERSION: String(plan.version), PLAN_WEIGHTS: plan.weights };
}
