// The front page's translator: shared staff texts under the page's own, one file per language each.
import sharedEn from "../lib/texts/en.js";
import sharedRu from "../lib/texts/ru.js";
import { translator } from "../lib/i18n.js";
import en from "./texts/en.js";
import ru from "./texts/ru.js";

export const tr = translator({ ru: sharedRu, en: sharedEn }, { ru, en });
