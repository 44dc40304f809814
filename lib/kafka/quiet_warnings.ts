/**
 * kafkajs arms an idle timer with a negative delay, which Node (and Deno's Node layer) runs after
 * 1 ms as kafkajs expects, but reports every time as a TimeoutNegativeWarning. Imported wherever
 * kafkajs is: drops that one warning and passes every other on.
 */
import process from "node:process";

const printers = process.listeners("warning");
process.removeAllListeners("warning");
process.on("warning", (warning: Error) => {
  if (warning.name !== "TimeoutNegativeWarning") { for (const print of printers) print(warning); }
});
