// Root hooks of `npm run test:docker`: one engine and one build of the images for the whole
// run; at the end, everything labelled with this run is removed and a private engine stops,
// whether the tests passed or not.
import { execFile } from "child_process";
import * as path from "path";
import { Engine, startEngine } from "./engine";

export interface TestImages {
  /** The distributor image (Debian's HAProxy 3.2 in the official image's layout). */
  readonly distributor: string;
  /** The demo app's base image; `appImage` derives one per color and version. */
  readonly app: string;
  /** The ACME client's image: Debian's lego and socat. */
  readonly acme: string;
  /** HAProxy's version in the distributor image, e.g. "3.2.26". */
  readonly haproxyVersion: string;
}

let engine: Engine | undefined;
let images: TestImages | undefined;

export function testEngine(): Engine {
  if (!engine) throw new Error("the Docker engine is not started (run through npm run test:docker)");
  return engine;
}

export function testImages(): TestImages {
  if (!images) throw new Error("the test images are not built (run through npm run test:docker)");
  return images;
}

function buildImages(current: Engine): Promise<TestImages> {
  return new Promise((resolve, reject) => {
    execFile(
      "sh",
      [path.join(__dirname, "build-images.sh")],
      { env: { ...process.env, DOCKER_HOST: current.host, TD_LABEL: current.label }, timeout: 900_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`build-images.sh failed: ${stderr}`));
        const values = Object.fromEntries(stdout.trim().split("\n").map((line) => line.split("=", 2)));
        resolve({ distributor: values.distributor, app: values.app, acme: values.acme, haproxyVersion: values.haproxy });
      },
    );
  });
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(1_200_000);
    let started = Date.now();
    engine = await startEngine();
    console.log(`  engine: ${engine.private ? "private dockerd" : "DOCKER_HOST"} ${engine.host}, ready in ${Date.now() - started} ms`);
    started = Date.now();
    images = await buildImages(engine);
    console.log(`  images: ${images.distributor} (HAProxy ${images.haproxyVersion}), ${images.app}; built in ${Date.now() - started} ms`);
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(300_000);
    await engine?.stop();
  },
};
