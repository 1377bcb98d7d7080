// The scripts the delivery runs beside HAProxy, as text: in the Docker distributor's container, and
// on the aws distributor host through SSM. No provider is loaded here, so either target reads them.
import * as fs from "fs";
import * as path from "path";

/** The script that validates and reloads a config inside the running container. */
export const DELIVER_CONFIG_SCRIPT = fs.readFileSync(path.join(__dirname, "deliver-config.sh"), "utf8");
/** The script that installs the certificate file in the running container. */
export const DELIVER_CERTIFICATE_SCRIPT = fs.readFileSync(path.join(__dirname, "deliver-certificate.sh"), "utf8");
