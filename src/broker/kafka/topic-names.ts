/** Kafka's topic name rules (Topic.validate in Apache Kafka), checked before anything is created. */
const TOPIC_NAME_LENGTH_MAX = 249;
const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]+$/;

/** Why `name` is not a valid topic name, or null when it is. */
export function topicNameProblem(name: string | null): string | null {
  if (name === null || name === "") return "topic name is empty";
  if (name === "." || name === "..") return `topic name cannot be "${name}"`;
  if (name.length > TOPIC_NAME_LENGTH_MAX) {
    return `topic name is ${name.length} characters, at most ${TOPIC_NAME_LENGTH_MAX}`;
  }
  if (!TOPIC_NAME_PATTERN.test(name)) {
    return `topic name "${name}" may only contain ASCII letters, digits, ".", "_" and "-"`;
  }
  return null;
}
