// The review page: drawn by the review page module (placeholder until it is written).
import { startPage } from "./common.js";

startPage();
