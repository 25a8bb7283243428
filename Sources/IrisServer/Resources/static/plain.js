// The pages with no script of their own (sign-in, search, history, members, tokens,
// administration, error pages): only what every page does (common.js).
import { startPage } from "./common.js";

startPage();
