// Inlined into each page's <head> by scripts/build-pages.mjs: applies the remembered theme before
// the first paint, so a dark-theme user never sees a white flash.
import { rememberedTheme } from './theme';

const theme = rememberedTheme();
if (theme) document.documentElement.dataset.theme = theme;
