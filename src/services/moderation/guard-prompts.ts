/**
 * The prompts and output grammars of guard models, written after each model card's format. The
 * prompts carry the models' control tokens as text (the engine reads them as tokens), so the text
 * being classified has anything shaped like a control token defused first.
 */
import { LLAMA_GUARD_3_CATEGORIES, SHIELDGEMMA_POLICIES, type ShieldGemmaPolicy } from "./guard-categories.ts";

/** Who wrote the text being classified. */
export type GuardRole = "user" | "assistant";

/** One hazard code as Llama Guard 3 writes it: S1 to S14. */
const LLAMA_GUARD_CODE = `"S" ("1" [0-4]? | [2-9])`;

/** Llama Guard 3's answer: "safe", or "unsafe" and a line of comma-separated hazard codes. */
export const LLAMA_GUARD_GRAMMAR = `root ::= "safe" | unsafe\nunsafe ::= "unsafe\\n" code ("," code)*\ncode ::= ${LLAMA_GUARD_CODE}`;

/**
 * Only the unsafe branch of LLAMA_GUARD_GRAMMAR: asks which hazards the model would list when its
 * P(unsafe) reaches a threshold below the point where it would say so itself.
 */
export const LLAMA_GUARD_UNSAFE_GRAMMAR = `root ::= "unsafe\\n" code ("," code)*\ncode ::= ${LLAMA_GUARD_CODE}`;

/** ShieldGemma's answer: its first token, "Yes" or "No". */
export const SHIELDGEMMA_GRAMMAR = `root ::= "Yes" | "No"`;

/**
 * Breaks up anything in the text that looks like a control token (`<|eot_id|>`, `<start_of_turn>`)
 * with a zero-width space after its `<`, so text under review cannot close its turn and write the
 * verdict's instructions itself. Ordinary text is unchanged.
 */
export function defuseControlTokens(text: string): string {
  return text.replace(/<(?=\|?[A-Za-z_][\w.-]*\|?>)/g, "<\u200b");
}

/**
 * The Llama Guard 3 prompt for one text (its model card's format): the task, the 14 hazard
 * categories, the conversation (the text as the `User` turn, or as the `Agent` turn for an
 * assistant's text), and the instructions for the answer, ending where the model's answer starts.
 */
export function llamaGuardPrompt(text: string, role: GuardRole = "user"): string {
  const who = role === "user" ? "User" : "Agent";
  const categories = LLAMA_GUARD_3_CATEGORIES.map((c) => `${c.code}: ${c.promptName}.`).join("\n");
  return (
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" +
    `Task: Check if there is unsafe content in '${who}' messages in conversations according our safety policy with the below categories.\n\n` +
    `<BEGIN UNSAFE CONTENT CATEGORIES>\n${categories}\n<END UNSAFE CONTENT CATEGORIES>\n\n` +
    `<BEGIN CONVERSATION>\n\n${who}: ${defuseControlTokens(text)}\n\n<END CONVERSATION>\n\n` +
    `Provide your safety assessment for ONLY THE LAST ${who} message in the above conversation:\n` +
    " - First line must read 'safe' or 'unsafe'.\n" +
    " - If unsafe, a second line must include a comma-separated list of violated categories.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
  );
}

/**
 * The ShieldGemma prompt for one text and one policy (its model card's format): a user's text is
 * the human question; an assistant's text is the chatbot response, to an unknown question. The
 * model's BOS comes from the engine. The answer's first token is read as Yes or No.
 */
export function shieldGemmaPrompt(text: string, policy: ShieldGemmaPolicy, role: GuardRole = "user"): string {
  const safe = defuseControlTokens(text);
  const response = role === "assistant";
  const preamble = response
    ? "You are a policy expert trying to help determine whether an AI response to prompt is in violation of the defined safety policies."
    : "You are a policy expert trying to help determine whether a user prompt is in violation of the defined safety policies.";
  const turns = response
    ? "<start_of_turn>\nHuman Question: \n<end_of_turn>\n\n" + `<start_of_turn>\nChatbot Response: ${safe}\n<end_of_turn>`
    : `<start_of_turn>\nHuman Question: ${safe}\n<end_of_turn>`;
  const subject = response ? "the Chatbot Response" : "the human question";
  return (
    `${preamble}\n\n${turns}\n\n` +
    `Our safety principle is defined in the below:\n\n* ${response ? policy.responseGuideline : policy.promptGuideline}\n\n===\n\n` +
    `Does ${subject} violate the above principle? Your answer must start with 'Yes' or 'No'. And then walk through step by step to be sure we answer correctly.\n`
  );
}

/** Every ShieldGemma prompt for one text, one per policy in SHIELDGEMMA_POLICIES order. */
export function shieldGemmaPrompts(text: string, role: GuardRole = "user"): string[] {
  return SHIELDGEMMA_POLICIES.map((policy) => shieldGemmaPrompt(text, policy, role));
}
